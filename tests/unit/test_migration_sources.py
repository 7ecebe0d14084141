"""Historical migrations are self-contained: they import no live application code, so that a
later edit to the tables, the roll-ups or the domain cannot change what an old migration does
(a database migrated last year and one migrated today must get the same schema and data)."""

from __future__ import annotations

import ast
from pathlib import Path

from marketscout.adapters.sql.migrate import MIGRATIONS

# The migrations' own helpers (frozen copies, such as their column types) live in this package.
_OWN = "marketscout.adapters.sql.migrations"


def _live_imports(path: Path) -> set[str]:
    """The application modules ``path`` imports, other than the migrations' own package."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            imported.add(node.module)
    return {
        name
        for name in imported
        if name.partition(".")[0] == "marketscout" and name != _OWN and not name.startswith(f"{_OWN}.")
    }


def test_no_migration_imports_live_application_code() -> None:
    """0001, 0002, 0003, 0007, 0013 and 0015 took their timestamp column type from
    ``marketscout.adapters.sql.tables``."""
    migrations = sorted((MIGRATIONS / "versions").glob("*.py"))
    assert len(migrations) >= 16  # the scan found the migrations
    importing = {path.name: sorted(live) for path in migrations if (live := _live_imports(path))}
    assert importing == {}
