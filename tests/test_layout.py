"""The layout's rules, checked over the source with ``ast``: imports go one way (``service`` may import
``ingest``; ``ingest`` never imports ``service``; inside ``service``, each sub-package imports only what
:data:`MAY_IMPORT` allows), and no two modules import each other, directly or in a circle, at module level or
inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ingest", "service")

# service's sub-packages, by concern; the modules shared by them; the wiring, which may import everything
SUBPACKAGES = ("answer", "web", "evaluation")
SHARED = {"service", "service.settings", "service.errors", "service.store"}  # "service": its __init__, no imports
WIRING = {"service.components", "service.cli"}
# what each part of service may import ("ingest" stands for all of ingest, a sub-package for all its modules)
MAY_IMPORT: dict[str, set[str]] = {
    "service.answer": {"service.answer", "ingest"} | SHARED,
    "service.web": {"service.web", "service.answer", "service.components", "ingest"} | SHARED,
    "service.evaluation": {"service.evaluation", "service.answer", "service.components", "ingest"} | SHARED,
    **{module: {"ingest"} | SHARED for module in SHARED},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Each of our modules and the modules of ours it imports (anywhere in it)."""
    modules = {module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the package, one level up per extra dot
                    parent = ".".join(package.split(".")[:len(package.split(".")) - (node.level - 1)])
                    base = f"{parent}.{base}" if base else parent
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
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


def area(module: str) -> str:
    """The part of the layout a module belongs to: ``ingest``, a sub-package of service, or the module itself."""
    parts = module.split(".")
    if parts[0] == "ingest":
        return "ingest"
    if len(parts) > 1 and parts[1] in SUBPACKAGES:
        return ".".join(parts[:2])
    return module


def rule_violations(graph: dict[str, set[str]]) -> dict[str, list[str]]:
    """Each module of service's sub-packages and shared modules, with the imports its part may not make."""
    offenders = {}
    for name, targets in graph.items():
        allowed = MAY_IMPORT.get(area(name))
        if allowed is None:  # ingest (checked above) and the wiring (may import everything)
            continue
        bad = sorted(target for target in targets if area(target) not in allowed)
        if bad:
            offenders[name] = bad
    return offenders


def test_every_service_module_has_a_place() -> None:
    """A new module goes into a sub-package, or is knowingly made shared or wiring (and given its rule here)."""
    placeless = sorted(name for name in imports() if area(name) not in {*MAY_IMPORT, *WIRING, "ingest"})
    assert placeless == []


def test_service_packages_import_only_what_their_rules_allow() -> None:
    """answer: shared modules and ingest only; web and evaluation: answer, shared, the wiring's components and
    ingest, never each other; shared modules: each other and ingest. None of them imports the CLI."""
    assert rule_violations(imports()) == {}
    assert rule_violations({"service.answer.judge": {"service.web.schemas", "service.components", "ingest.models"},
                            "service.web.app": {"service.evaluation.scores", "service.answer.pipeline"},
                            "service.evaluation.harness": {"service.web", "service.cli"},
                            "service.store": {"service.answer.lexical"}}) == {
        "service.answer.judge": ["service.components", "service.web.schemas"],
        "service.web.app": ["service.evaluation.scores"],
        "service.evaluation.harness": ["service.cli", "service.web"],
        "service.store": ["service.answer.lexical"],
    }
