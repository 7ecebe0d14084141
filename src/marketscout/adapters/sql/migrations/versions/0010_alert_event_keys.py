"""alert event keys name the rule's condition, not its id

Keys were ``r{rule}:p{product}:{kind}:...``; they are now ``p{product}:{condition}:...``, so
that a default rule, an explicit rule of the same kind and parameters, and identical rules find
the same events, which alert once. Stored keys are rewritten so that an event alerted before
the upgrade is not alerted again. A key whose rule was deleted (threshold or rise: its
parameters are gone) or whose new form is already stored is left as it was.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 22:10:00.000000
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_LEGACY = re.compile(r"^r(\d+):(p\d+):(viral|threshold|rise|exploding):(.+)$")
# The defaults a user without rules had (rule id 0): a rise of 10 points in 24 h, and viral ads.
_DEFAULT_RISE = (10.0, 24)


def _condition(kind: str, rule: tuple[float | None, int | None] | None) -> str | None:
    if kind in ("viral", "exploding"):
        return kind
    if rule is None or rule[0] is None:
        return None
    if kind == "threshold":
        return f"threshold{float(rule[0])!r}"
    return f"rise{float(rule[0])!r}/{rule[1]}h"


def upgrade() -> None:
    connection = op.get_bind()
    rules: dict[int, tuple[float | None, int | None]] = {
        row.id: (row.threshold, row.window_hours)
        for row in connection.execute(sa.text("SELECT id, threshold, window_hours FROM alert_rules"))
    }
    rules[0] = _DEFAULT_RISE
    taken = {
        (row.user_id, row.event_key)
        for row in connection.execute(sa.text("SELECT user_id, event_key FROM alerts"))
    }
    renames = []
    for row in connection.execute(sa.text("SELECT id, user_id, event_key FROM alerts ORDER BY id")):
        match = _LEGACY.match(row.event_key)
        if match is None:
            continue
        rule_id, product, kind, event = match.groups()
        condition = _condition(kind, rules.get(int(rule_id)))
        if condition is None:
            continue
        key = f"{product}:{condition}:{event}"
        if (row.user_id, key) in taken:
            continue
        taken.add((row.user_id, key))
        renames.append({"id": row.id, "key": key})
    if renames:
        connection.execute(sa.text("UPDATE alerts SET event_key = :key WHERE id = :id"), renames)


def downgrade() -> None:
    # The old keys cannot be rebuilt (which rule found an event is kept in rule_id, but an event
    # found by several rules was stored once). The new keys stay; older code, which builds keys
    # of the old form, then alerts the events still going on once more (docs/operations.md).
    pass
