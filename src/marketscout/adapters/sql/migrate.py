"""Schema migrations with Alembic, shipped inside the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, pool

from marketscout.adapters.sql.engine import is_sqlite, sqlite_path, sync_url

MIGRATIONS = Path(__file__).with_name("migrations")


def _config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head() -> str:
    revision = ScriptDirectory.from_config(_config("sqlite://")).get_current_head()
    if revision is None:
        raise RuntimeError("no migrations found")
    return revision


def upgrade(url: str, revision: str = "head") -> None:
    if is_sqlite(url):
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Undoes the migrations after ``revision`` (an operator going back to an older release)."""
    command.downgrade(_config(url), revision)


def current(url: str) -> str | None:
    engine = create_engine(sync_url(url), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def is_up_to_date(url: str) -> bool:
    return current(url) == head()


def describe(url: str) -> str:
    """Where a database is, for log lines (no password)."""
    path = sqlite_path(url) if is_sqlite(url) else None
    if path is not None:
        return str(path.resolve())
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
