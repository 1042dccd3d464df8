"""fer_bench's import graph has no cycle: the layers contract (pyproject.toml, `lint-imports`) orders the
packages but has no rule inside one, so modules of one layer could still import each other in a ring.
(import-linter's `acyclic_siblings` contract misses a ring through a package's `__init__`, as
reports/leaderboard.py -> reports/__init__ -> reports/labels.py -> reports/leaderboard.py was.)

The graph is import-linter's own (grimp), and it counts every import statement: those inside functions
too, and those under `if TYPE_CHECKING`, as `lint-imports` does. An import moved into a function only
postpones the cycle to the first call (Python then finds the modules already loaded); the modules still
need each other, and cannot be understood or changed apart."""

import grimp


def import_cycles(package="fer_bench") -> set[frozenset[str]]:
    """The groups of modules that import each other, directly or through others (the strongly
    connected components of more than one module)."""
    graph = grimp.build_graph(package, cache_dir=None)
    groups = set()
    for module in graph.modules:
        both_ways = graph.find_upstream_modules(module) & graph.find_downstream_modules(module)
        if both_ways:
            groups.add(frozenset({module, *both_ways}))
    return groups


def test_no_module_imports_itself_through_others():
    assert import_cycles() == set(), "modules that import each other"
