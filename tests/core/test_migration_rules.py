"""Migrations keep rolling upgrades possible: expand, then contract (docs/deploy.md).

During a rolling upgrade processes of the old and the new release run on one database, and the
first new process migrates it. So a migration may only add (tables, nullable or defaulted
columns, indexes, constraints old code satisfies); removing or renaming a table or column
breaks the old processes still running. That is a *contract* step: its own migration, shipped
a release after the code stopped using what it removes, and marked ``phase = "contract"`` at
module level. This test fails on a migration that drops or renames without the mark.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import bridgekit.migrations

VERSIONS = Path(bridgekit.migrations.__file__).parent / "versions"
# Migrations before this number predate rolling upgrades (one process, stopped to upgrade).
CHECKED_FROM = 14

_BREAKING_CALLS = {"drop_column", "drop_table", "rename_table"}
_BREAKING_SQL = re.compile(
    r"\b(DROP\s+(TABLE|COLUMN)|RENAME\s+(TO|COLUMN)|ALTER\s+COLUMN\s+\w+\s+(SET\s+DATA\s+)?TYPE)\b",
    re.IGNORECASE,
)


def schema_breaks(source: str) -> list[str]:
    """What the upgrade path of a migration's source removes or renames (downgrades ignored)."""
    tree = ast.parse(source)
    found: list[str] = []
    downgrades = {
        id(node)
        for fn in ast.walk(tree)
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef) and fn.name.startswith("downgrade")
        for node in ast.walk(fn)
    }
    for node in ast.walk(tree):
        if id(node) in downgrades:
            continue
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            if name in _BREAKING_CALLS:
                found.append(f"{name} (line {node.lineno})")
            elif name == "alter_column" and any(k.arg == "new_column_name" for k in node.keywords):
                found.append(f"alter_column(new_column_name=...) (line {node.lineno})")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _BREAKING_SQL.search(node.value)
            if match:
                found.append(f"{match.group(0)!r} in SQL (line {node.lineno})")
    return found


def is_contract_step(source: str) -> bool:
    for node in ast.parse(source).body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "phase" for t in node.targets)
            and isinstance(node.value, ast.Constant)
        ):
            return node.value.value == "contract"
    return False


def test_every_migration_that_drops_or_renames_is_a_marked_contract_step() -> None:
    checked, unmarked = [], []
    for path in sorted(VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py")):
        if int(path.name[:4]) < CHECKED_FROM:
            continue
        checked.append(path.name)
        source = path.read_text()
        breaks = schema_breaks(source)
        if breaks and not is_contract_step(source):
            unmarked.append(f"{path.name}: {', '.join(breaks)}")
    assert not unmarked, (
        "these migrations remove or rename what running processes of the previous release still "
        "use; split them (expand now, contract a release later) and mark the contract step "
        '`phase = "contract"` (docs/deploy.md, "Migrations during a rolling upgrade"):\n'
        + "\n".join(unmarked)
    )


def test_the_rule_sees_drops_and_renames_in_upgrades_only() -> None:
    expand = """
def upgrade():
    op.add_column("chats", sa.Column("priority", sa.Integer(), nullable=True))
    op.create_index("ix_chats_priority", "chats", ["priority"])
    op.execute("UPDATE chats SET priority = 0")
def downgrade():
    op.drop_column("chats", "priority")
"""
    assert schema_breaks(expand) == []
    dropping = """
def upgrade():
    with op.batch_alter_table("chats") as batch_op:
        batch_op.drop_column("goal")
"""
    assert schema_breaks(dropping) == ["drop_column (line 4)"]
    renaming = """
def upgrade():
    op.alter_column("chats", "goal", new_column_name="aim")
    op.rename_table("macros", "snippets")
    op.execute("ALTER TABLE chats DROP COLUMN description")
    op.execute("ALTER TABLE chats ALTER COLUMN goal TYPE text")
"""
    assert len(schema_breaks(renaming)) == 4
    assert not is_contract_step(renaming)
    assert is_contract_step('phase = "contract"\n' + renaming)
    # Migrations from before the rule do what it now forbids: the checker would catch them.
    assert schema_breaks((VERSIONS / "0007_sqlite_autoincrement.py").read_text()) != []
