"""Taking a test's database away under a running app, and bringing it back.

- PostgreSQL: the server cuts every connection to the database (what a failover or an
  administrator's restart does to clients) and the database is renamed away, so pooled
  connections are dead and new ones are refused; renamed back, it serves again.
- SQLite: the folder holding the file moves away (a disk unmounted), so opening the file
  fails. Connections already open would keep the old file open: the caller empties its
  pool first, as after a recycle.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get(
    "STOCKROOM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


class Outage:
    """`begin()` takes the database at `url` away, `end()` brings it back (safe to call
    when it is not away)."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        self.down = False

    @property
    def away_name(self) -> str:
        return f"{self.url.database}_away"

    def _folder(self) -> Path:
        return Path(str(self.url.database)).parent

    def begin(self) -> None:
        if self.url.get_backend_name() == "sqlite":
            folder = self._folder()
            folder.rename(folder.with_name(folder.name + "-away"))
        else:
            self._postgres(f'ALTER DATABASE "{self.url.database}" RENAME TO "{self.away_name}"',
                           cut=True)
        self.down = True

    def end(self) -> None:
        if not self.down:
            return
        if self.url.get_backend_name() == "sqlite":
            folder = self._folder()
            folder.with_name(folder.name + "-away").rename(folder)
        else:
            self._postgres(f'ALTER DATABASE "{self.away_name}" RENAME TO "{self.url.database}"',
                           cut=False)
        self.down = False

    def _postgres(self, statement: str, *, cut: bool) -> None:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                for attempt in range(50):
                    if cut:
                        conn.execute(text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :name AND pid <> pg_backend_pid()"
                        ), {"name": self.url.database})
                    try:
                        conn.exec_driver_sql(statement)
                        return
                    except Exception:
                        if attempt == 49:  # terminated sessions take a moment to leave
                            raise
                        time.sleep(0.1)
        finally:
            admin.dispose()
