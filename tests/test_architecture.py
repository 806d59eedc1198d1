"""The shape of the house, stated as tests (docs/architecture.md explains it).

Layers, lowest first; a module may import its own layer and the ones below, never above:

    0 domain       carbon_credits.domain          pure rules and the scheme's vocabulary
    1 models       models                         tables; the domain's words in CHECKs
    2 foundation   carbon_credits.config, .kvstore, .context
    3 services     carbon_credits.services        use cases, one unit of work each
    4 jobs         carbon_credits.jobs            the registry of due work
    5 http         api                            blueprints, schemas, auth
    6 entry        wsgi, worker, scheduler        processes: web, RQ worker, RQ cron

Imports inside functions count: a lazy import is still an arrow. The graph is built by grimp
(the engine of import-linter) from the source, without importing anything.
"""
from __future__ import annotations

import ast
import pathlib

import grimp
import pytest
from radon.complexity import cc_visit

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("carbon_credits", "api", "models")
ENTRY_POINTS = ("wsgi", "worker", "scheduler")
LAYERS = (
    ("domain", ("carbon_credits.domain",)),
    ("models", ("models",)),
    ("foundation", ("carbon_credits.config", "carbon_credits.kvstore", "carbon_credits.context",
                    "carbon_credits")),
    ("services", ("carbon_credits.services",)),
    ("jobs", ("carbon_credits.jobs",)),
    ("http", ("api",)),
    ("entry", ENTRY_POINTS),
)
# The HTTP layer reaches the database through services. The app factory is the exception: it
# binds the session (`models.db`) to the Flask app.
HTTP_MAY_IMPORT_MODELS = {"api"}

# Size budget for carbon_credits/: modules up to ~400 lines, functions up to 60 lines and
# cyclomatic complexity 15. An exception names its reason (docs/architecture.md repeats them).
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
MAX_COMPLEXITY = 15
KEPT_EXCEPTIONS: dict[str, str] = {}


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph(*PACKAGES, include_external_packages=True, cache_dir=None)


def _ours(graph) -> list[str]:
    return sorted(m for m in graph.modules if m.split(".")[0] in PACKAGES)


def _layer_of(module: str) -> int:
    best, rank = -1, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), index
    assert rank is not None, f"{module} belongs to no layer: add it to LAYERS"
    return rank


def _arrows(graph, importer: str) -> set[str]:
    return set(graph.find_modules_directly_imported_by(importer))


def test_every_arrow_points_down(graph):
    upward = []
    for importer in _ours(graph):
        for imported in _arrows(graph, importer):
            if imported.split(".")[0] not in PACKAGES + ENTRY_POINTS:
                continue  # a third-party package
            if _layer_of(imported) > _layer_of(importer):
                upward.append(f"{importer} -> {imported} "
                              f"({LAYERS[_layer_of(importer)][0]} imports "
                              f"{LAYERS[_layer_of(imported)][0]})")
    assert not upward, "\n".join(upward)


def test_the_domain_imports_nothing_of_ours_nor_the_frameworks(graph):
    offenders = [f"{m} -> {i}" for m in _ours(graph) if m.startswith("carbon_credits.domain")
                 for i in _arrows(graph, m)
                 if not i.startswith("carbon_credits.domain")
                 and i.split(".")[0] in PACKAGES + ENTRY_POINTS + ("flask", "sqlalchemy", "redis",
                                                                   "marshmallow", "rq")]
    assert not offenders, "\n".join(offenders)


def test_models_import_only_the_domain(graph):
    offenders = [f"{m} -> {i}" for m in _ours(graph) if m.split(".")[0] == "models"
                 for i in _arrows(graph, m)
                 if i.split(".")[0] in PACKAGES and not i.startswith(("models", "carbon_credits.domain"))]
    assert not offenders, "\n".join(offenders)


def test_the_http_layer_reaches_the_database_through_services(graph):
    offenders = [f"{m} -> {i}" for m in _ours(graph)
                 if m.split(".")[0] == "api" and m not in HTTP_MAY_IMPORT_MODELS
                 for i in _arrows(graph, m) if i.split(".")[0] == "models"]
    assert not offenders, "\n".join(offenders)


def test_no_import_cycles(graph):
    modules = _ours(graph)
    edges = {m: sorted(i for i in _arrows(graph, m) if i in set(modules)) for m in modules}
    cycles = [" -> ".join(c) for c in _cycles(edges)]
    assert not cycles, "\n".join(cycles)


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert _cycles({"a": ["b"], "b": []}) == []


def test_nothing_below_the_entry_level_imports_an_entry_point(graph):
    offenders = [f"{m} -> {e}" for e in ENTRY_POINTS if e in graph.modules
                 for m in graph.find_modules_that_directly_import(e)]
    assert not offenders, "\n".join(offenders)


def _sources():
    for path in sorted((ROOT / "carbon_credits").rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")


def test_modules_stay_small():
    big = [f"{name}: {text.count(chr(10))} lines" for name, text in _sources()
           if text.count("\n") > MAX_MODULE_LINES and name not in KEPT_EXCEPTIONS]
    assert not big, "\n".join(big)


def test_functions_stay_short_and_simple():
    offenders = []
    for name, text in _sources():
        for block in cc_visit(text):
            where = f"{name}::{block.fullname}"
            if where in KEPT_EXCEPTIONS:
                continue
            length = block.endline - block.lineno + 1
            if getattr(block, "is_method", False) or not hasattr(block, "methods"):
                if length > MAX_FUNCTION_LINES:
                    offenders.append(f"{where}: {length} lines")
                if block.complexity > MAX_COMPLEXITY:
                    offenders.append(f"{where}: complexity {block.complexity}")
    assert not offenders, "\n".join(offenders)


def test_kept_exceptions_still_exist():
    """A kept exception that no longer exceeds the budget is removed from the list."""
    names = dict(_sources())
    for where in KEPT_EXCEPTIONS:
        assert where.split("::")[0] in names, f"stale exception {where}"
    assert all(reason.strip() for reason in KEPT_EXCEPTIONS.values())


def test_registries_are_not_filled_by_importing_a_module():
    """No module appends to another module's list at import time (`X.CHECKERS.append(...)`):
    a registry names its members where it is defined."""
    offenders = []
    for name, text in _sources():
        for node in ast.parse(text).body:
            call = node.value if isinstance(node, ast.Expr) else None
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) \
                    and call.func.attr in ("append", "extend", "register") \
                    and isinstance(call.func.value, ast.Attribute):
                offenders.append(f"{name}:{node.lineno}")
    assert not offenders, "\n".join(offenders)
