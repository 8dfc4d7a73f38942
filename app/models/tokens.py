from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utcnow
from app.extensions import db


class ApiToken(db.Model):
    """A personal API token: it acts as its user. Only a hash of the secret is kept, so a
    leaked table grants nothing; the prefix lets the user tell tokens apart.

    The scope columns only take away from what the user holds, and NULL means "not
    limited": `store_ids` and `permissions` are JSON lists, `platform_admin` False keeps a
    platform admin's token to their memberships. `expires_at` NULL never expires (tokens
    made before expiry existed, or by an explicit choice)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    store_ids: Mapped[list[int] | None] = mapped_column(JSON(none_as_null=True))
    permissions: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    platform_admin: Mapped[bool | None]

    @property
    def active(self) -> bool:
        return self.revoked_at is None
