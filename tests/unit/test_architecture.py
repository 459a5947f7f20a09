"""The house rules that keep the code readable, checked on its source: pure cores import
neither Flask nor the database, and the domains' modules import one another without
circles (a circle means two domains each need the other's internals, and that their shared
part has no home of its own)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "fieldapp"

# Rules, readings and formats that must be checkable with plain values.
PURE_CORES = (
    "evidence/checks.py", "evidence/exif.py", "geo/coordinates.py", "custody/chain.py",
    "custody/binding.py", "hotspots/scoring.py", "hotspots/cells.py", "complaints/rules.py",
    "tasks/rules.py", "accounts/throttle.py", "uploads/protocol.py",
    "volunteers/certificates.py", "volunteers/records.py", "serving/proxy.py",
    "serving/supervision.py", "jobs/schedule.py", "access/disclosure.py",
    "backups/contents.py",
)  # sites/importer.py needs no app either, but shares the API's schema module on purpose
FRAMEWORKS = ("flask", "flask_smorest", "sqlalchemy", "geoalchemy2", "psycopg2",
              "fieldapp.extensions")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(path: Path, *, top_level_only: bool) -> set[str]:
    """The modules a file imports (`from a.b import c` counts as a.b.c when that is a
    module); with top_level_only, not those imported inside functions, which load late."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in MODULES
                      else node.module for alias in node.names}
    return found


def _internal_closure(start: str) -> set[str]:
    seen, frontier = set(), [start]
    while frontier:
        name = frontier.pop()
        if name in seen:
            continue
        seen.add(name)
        frontier += [m for m in _imports(MODULES[name], top_level_only=False)
                     if m in MODULES and m != "fieldapp"]
    return seen


@pytest.mark.parametrize("core", PURE_CORES)
def test_pure_cores_import_neither_flask_nor_the_database(core):
    module = _module_name(PACKAGE / core)
    for name in _internal_closure(module):
        imported = _imports(MODULES[name], top_level_only=False)
        framework = [m for m in imported if m.split(".")[0] in FRAMEWORKS or m in FRAMEWORKS
                     or m.startswith("fieldapp.extensions")]
        assert not framework, f"{core} reaches {framework} through {name}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for successor in graph[node]:
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                on_stack.discard(member)
                component.append(member)
            on_stack.discard(node)
            if component:
                found.append(sorted([node, *component]))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_circles_between_modules():
    # The package root only gives create_app and __version__; it imports every domain.
    graph = {name: {m for m in _imports(path, top_level_only=True)
                    if m in MODULES and m not in (name, "fieldapp")}
             for name, path in MODULES.items()}
    assert _cycles(graph) == []


def test_services_never_import_one_another_in_a_circle_even_late():
    # Imports inside functions count too here: a late import still ties two domains. The
    # job registry (jobs.tasks) is left out: it runs every domain's work by name.
    services = {name for name in MODULES
                if name.rsplit(".", 1)[-1] in ("service", "linking", "risk", "indexing")}
    graph = {name: {m for m in _imports(MODULES[name], top_level_only=False)
                    if m in services and m != name} for name in services}
    assert _cycles(graph) == []
