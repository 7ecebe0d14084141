"""Alembic environment: runs migrations with a synchronous driver on the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from marketscout.adapters.sql.engine import set_sqlite_pragmas, sync_url
from marketscout.adapters.sql.tables import metadata

config = context.config
url = sync_url(config.get_main_option("sqlalchemy.url") or "")


def run_migrations_online() -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    if url.startswith("sqlite"):
        from sqlalchemy import event

        event.listen(engine, "connect", set_sqlite_pragmas)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=url.startswith("sqlite"),
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
