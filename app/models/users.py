from __future__ import annotations

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utcnow
from app.extensions import db

ROLES = ("owner", "admin", "staff")
# What a scan that names exactly one entry opens: the entry's page, or its Adjust form.
SCAN_OPENS = ("entry", "adjust")


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class User(UserMixin, db.Model):
    """Someone who signs in; platform admins see every store."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("scan_opens IN ('entry', 'adjust')", name="scan_opens"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_platform_admin: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    # Part of the signed session; replacing it signs the user out on every device.
    session_token: Mapped[str] = mapped_column(String(64), default=new_session_token)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A personal setting, one of SCAN_OPENS.
    scan_opens: Mapped[str] = mapped_column(String(8), default="entry", server_default="entry")

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_token}"


class Membership(db.Model):
    """A user's role in one store, plus the permission groups granted to staff."""

    __tablename__ = "memberships"
    __table_args__ = (
        UniqueConstraint("user_id", "store_id"),
        CheckConstraint("role IN ('owner', 'admin', 'staff')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    grants: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="memberships")
