"""SQLAlchemy 2 (async) adapters: SQLite (embedded default) and PostgreSQL via psycopg 3."""
