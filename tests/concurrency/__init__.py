"""RELIABILITY.md's concurrency battery, run on SQLite and on PostgreSQL."""
