"""The layout's rules, checked over the source with ``ast``: imports go one way (``service`` may import
``ingest``; ``ingest`` never imports ``service``), and no two modules import each other, directly or in a
circle, at module level or inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ingest", "service")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Each of our modules and the modules of ours it imports (anywhere in it)."""
    modules = {module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            found |= {target for target in targets if target in modules}
        graph[name] = found - {name}
    return graph


def test_ingest_never_imports_the_service() -> None:
    offenders = {name: sorted(t for t in targets if t.split(".")[0] == "service")
                 for name, targets in imports().items() if name.split(".")[0] == "ingest"}
    assert {name: t for name, t in offenders.items() if t} == {}


def test_no_module_imports_itself_through_others() -> None:
    graph = imports()
    cycles = []
    for start in sorted(graph):
        stack = [(start, [start])]
        seen: set[str] = set()
        while stack:
            node, path = stack.pop()
            for target in sorted(graph[node]):
                if target == start:
                    cycles.append(" -> ".join(path + [start]))
                elif target not in seen:
                    seen.add(target)
                    stack.append((target, path + [target]))
    assert cycles == []
