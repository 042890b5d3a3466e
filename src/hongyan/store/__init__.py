"""Persistence: SQLAlchemy Core schema, one query module per aggregate, migrations.

The same code runs on SQLite (embedded default, WAL, one group-committing
writer per process) and on PostgreSQL.
"""
