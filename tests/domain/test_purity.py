"""The domain core imports neither Flask nor SQLAlchemy, and never reads the clock."""

from __future__ import annotations

import ast
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[2] / "reservations" / "domain"


def test_domain_imports_no_framework_and_reads_no_clock() -> None:
    for path in DOMAIN.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                names = []
            for name in names:
                assert not name.startswith(("flask", "sqlalchemy", "reservations.models")), (path.name, name)
            if isinstance(node, ast.Attribute) and node.attr in ("now", "utcnow", "today"):
                raise AssertionError(f"{path.name} reads the clock ({node.attr})")
