"""Only the stock engine's package writes inventory entries and the ledger.

Every module under app/ is parsed (never imported) and searched for a write to
`inventory_entries` or `stock_movements`: insert/update/delete statements on the tables or
their models (`insert(entries)`, `entries.update()`, `insert_ignoring_conflicts(entries, …)`),
a model instance built to be added (`InventoryEntry(...)`), the ORM's bulk methods, and SQL
text that inserts into, updates or deletes from either table. Only app/services/stock/ may
hold one. The checker is tried on snippets first, so a test that cannot fail is not taken
for one that passes.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"
ALLOWED = "services/stock/"
EXCLUDED = {
    # Schema history: migrations create, backfill and alter the tables before any of the
    # app's code runs against them.
    "migrations/": "schema history",
    # The tables' own definitions, and the triggers that refuse UPDATE and DELETE on the
    # ledger and keep the tallies: DDL that names those statements in order to forbid them.
    "models/": "table definitions and triggers",
}
TABLE_NAMES = ("inventory_entries", "stock_movements")
MODELS = {"InventoryEntry", "StockMovement"}
# Names the engine gives the two tables; importing them means "these tables".
ENGINE_NAMES = {"entries", "movements"}
STATEMENTS = {"insert", "update", "delete", "insert_ignoring_conflicts"}
ORM_BULK = {"bulk_insert_mappings", "bulk_update_mappings", "bulk_save_objects"}
SQL_WRITE = re.compile(
    r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+(?:" + "|".join(TABLE_NAMES) + r")\b",
    re.IGNORECASE,
)


def _stock_tables(tree: ast.AST) -> set[str]:
    """Local names that stand for one of the two tables or their models."""
    names = set(MODELS)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.name in MODELS or (
                    alias.name in ENGINE_NAMES and (node.module or "").startswith("app.services")
                ):
                    names.add(alias.asname or alias.name)
    # Aliases of aliases (`target = entries.alias()`): repeat until nothing new appears.
    while True:
        found = set(names)
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and _names_table(node.value, names):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        found.add(target.id)
        if found == names:
            return names
        names = found


def _names_table(node: ast.AST, names: set[str]) -> bool:
    """`entries`, `InventoryEntry.__table__`, `InventoryEntry.__table__.alias(…)`, and
    `Table("inventory_entries", …)`."""
    if isinstance(node, ast.Name):
        return node.id in names
    if isinstance(node, ast.Attribute):
        return _names_table(node.value, names)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("alias", "__table__"):
            return _names_table(node.func.value, names)
        if _called(node) == "Table" and node.args:
            first = node.args[0]
            return isinstance(first, ast.Constant) and first.value in TABLE_NAMES
    return False


def _called(node: ast.Call) -> str | None:
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def find_writes(source: str) -> list[str]:
    """Every write to the entries or the ledger in `source`, as "line N: what"."""
    tree = ast.parse(source)
    tables = _stock_tables(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _called(node)
            target = node.func.value if isinstance(node.func, ast.Attribute) else None
            if name in STATEMENTS and node.args and _names_table(node.args[0], tables):
                found.append(f"line {node.lineno}: {name}() on a stock table")
            elif name in ("insert", "update", "delete") and target is not None \
                    and not node.args and _names_table(target, tables):
                found.append(f"line {node.lineno}: .{name}() of a stock table")
            elif name in MODELS and isinstance(node.func, ast.Name):
                found.append(f"line {node.lineno}: a new {name} row")
            elif name in ORM_BULK and node.args and _names_table(node.args[0], tables):
                found.append(f"line {node.lineno}: {name} of a stock model")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = SQL_WRITE.search(node.value)
            if match:
                found.append(f"line {node.lineno}: SQL {' '.join(match.group(0).split())!r}")
    return sorted(set(found), key=lambda s: int(s.split(":")[0].split()[1]))


# --------------------------------------------------------------------------- the checker


@pytest.mark.parametrize("snippet", [
    "from app.models import InventoryEntry\nentries = InventoryEntry.__table__\n"
    "session.execute(update(entries).values(quantity=1))",
    "from app.services.stock.engine import movements\nsession.execute(insert(movements), rows)",
    "from app.models import StockMovement\nsession.execute(insert(StockMovement).values(x=1))",
    "from app.models import InventoryEntry\nsession.execute(InventoryEntry.__table__.delete())",
    "from app.models import InventoryEntry\nentries = InventoryEntry.__table__\n"
    "target = entries.alias('t')\nsession.execute(target.update().values(quantity=0))",
    "from app.models import InventoryEntry\nentries = InventoryEntry.__table__\n"
    "session.execute(insert_ignoring_conflicts(entries, 'sqlite').values(quantity=0))",
    "from app.models import InventoryEntry\ndb.session.add(InventoryEntry(quantity=3))",
    "db.session.bulk_insert_mappings(StockMovement, rows)",
    "conn.exec_driver_sql('insert into stock_movements (id) values (1)')",
    "session.execute(text('''UPDATE\n    inventory_entries SET quantity = 0'''))",
    "session.execute(text('DELETE FROM inventory_entries WHERE id = 1'))",
    "t = Table('stock_movements', metadata)\nsession.execute(t.insert())",
], ids=["update", "engine-import", "model-insert", "table-delete", "alias-update",
        "on-conflict", "orm-add", "orm-bulk", "sql-insert", "sql-update", "sql-delete",
        "reflected-table"])
def test_the_checker_catches_a_write(snippet):
    assert find_writes(snippet), f"missed a write in:\n{snippet}"


@pytest.mark.parametrize("snippet", [
    "from app.models import InventoryEntry\nentries = InventoryEntry.__table__\n"
    "session.execute(select(entries.c.id).where(entries.c.quantity > 0))",
    "from app.models import Product\nproducts = Product.__table__\n"
    "session.execute(update(products).values(title='x'))",
    "session.execute(text('SELECT quantity FROM inventory_entries'))",
    "help = 'Updated inventory entries are listed below.'",
    "session.execute(text('UPDATE stock_tallies SET n = 0'))",
], ids=["read", "other-table", "sql-read", "prose", "other-sql"])
def test_the_checker_passes_what_is_not_a_write(snippet):
    assert find_writes(snippet) == []


def test_the_checker_catches_a_write_placed_in_a_real_module():
    """The catalog service with one line added that zeroes an entry: caught."""
    source = (APP / "services" / "catalog.py").read_text()
    assert find_writes(source) == []
    planted = source + (
        "\n\ndef zero(session):\n"
        "    session.execute(update(entries).where(entries.c.id == 1).values(quantity=0))\n"
    )
    assert len(find_writes(planted)) == 1


def test_the_checker_sees_the_engines_own_writes():
    """Inside app/services/stock/ the same checker finds the writes it forbids elsewhere."""
    stock = APP / "services" / "stock"
    writes = {path.name: find_writes(path.read_text()) for path in stock.glob("*.py")}
    for module in ("engine.py", "entries.py", "bulk.py", "imports.py"):
        assert writes[module], f"no write found in stock/{module}: the checker is blind"


# --------------------------------------------------------------------------- the app


def test_only_the_stock_package_writes_entries_or_the_ledger():
    offenders: dict[str, list[str]] = {}
    checked = 0
    for path in sorted(APP.rglob("*.py")):
        relative = path.relative_to(APP).as_posix()
        if relative.startswith(ALLOWED) or relative.startswith(tuple(EXCLUDED)):
            continue
        checked += 1
        writes = find_writes(path.read_text())
        if writes:
            offenders[f"app/{relative}"] = writes
    assert checked > 50, "the walk found too few modules to mean anything"
    assert offenders == {}, (
        "Stock is written outside app/services/stock/ (go through the engine instead): "
        f"{offenders}"
    )
