"""The package's layering, read from the source: imports flow downwards only.

Every ``import`` statement counts, at module level or inside a function, so a cycle
cannot hide behind a function-level import.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from interpretable_kd import ALL_ESTIMATORS, MLPTeacher
from interpretable_kd.students import (
    REGISTRY,
    ShallowMLPClassifier,
    SoftDecisionTreeClassifier,
    SoftLogisticRegression,
    StudentKind,
    kind_of,
    register,
    unregister,
)
from interpretable_kd.students.additive import AdditiveClassifier

PACKAGE = "interpretable_kd"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

#: Modules that only the layers above students may import.
ABOVE_STUDENTS = ("teachers", "distill", "report", "cli", "audit")
#: Estimator modules, which report/ must not import (it draws data, not models).
ESTIMATOR_MODULES = ("students", "teachers", "distill", "_training")


def _module_name(path: Path) -> str:
    """``interpretable_kd/students/mlp.py`` -> ``interpretable_kd.students.mlp``.

    Parameters
    ----------
    path : Path
        A ``.py`` file under the package.

    Returns
    -------
    str
        Its dotted module name (a package's ``__init__`` gives the package's name).
    """
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    """Every module of the package.

    Returns
    -------
    dict
        Dotted name -> file.
    """
    return {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _resolve(module: str, node: ast.ImportFrom | ast.Import, is_package: bool) -> set[str]:
    """The package modules one import statement names.

    ``from a import b`` names ``a.b`` when that is a module, else ``a``.

    Parameters
    ----------
    module : str
        The importing module.
    node : ast.Import or ast.ImportFrom
        The statement.
    is_package : bool
        Whether the importing module is a package's ``__init__``.

    Returns
    -------
    set of str
        Dotted names of the package modules imported (others are dropped).
    """
    known = _modules()
    if isinstance(node, ast.Import):
        targets = {alias.name for alias in node.names}
    else:
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        targets = set()
        for alias in node.names:
            child = f"{prefix}.{alias.name}"
            targets.add(child if child in known else prefix)
    out = set()
    for target in targets:
        # ``import a.b.c`` names a.b.c; keep the longest prefix that is a package module
        parts = target.split(".")
        while parts and ".".join(parts) not in known:
            parts.pop()
        if parts:
            out.add(".".join(parts))
    return out


@cache
def import_graph() -> dict[str, frozenset[str]]:
    """The package's import graph, read with ``ast``.

    Returns
    -------
    dict
        Module -> the package modules it imports (anywhere in its source).
    """
    graph = {}
    for name, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                edges |= _resolve(name, node, path.name == "__init__.py")
        edges.discard(name)
        graph[name] = frozenset(edges)
    return graph


def _find_cycle(graph: dict[str, frozenset[str]]) -> list[str] | None:
    """One cycle of the graph, or None.

    Parameters
    ----------
    graph : dict
        Node -> successors.

    Returns
    -------
    list of str or None
        The nodes of a cycle, its first node repeated at the end.
    """
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def _reachable(start: str, graph: dict[str, frozenset[str]]) -> set[str]:
    """Every module imported, directly or not, by ``start``.

    Parameters
    ----------
    start : str
        A module.
    graph : dict
        The import graph.

    Returns
    -------
    set of str
        The modules reachable from ``start`` (itself excluded).
    """
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    seen.discard(start)
    return seen


def _in(module: str, layer: str) -> bool:
    """Whether ``module`` is ``interpretable_kd.<layer>`` or inside it."""
    name = f"{PACKAGE}.{layer}"
    return module == name or module.startswith(name + ".")


def test_the_graph_is_read() -> None:
    graph = import_graph()
    assert f"{PACKAGE}._training" in graph[f"{PACKAGE}.students.logistic"]
    assert f"{PACKAGE}.students.registry" in graph[f"{PACKAGE}.students"]


def test_no_import_cycle() -> None:
    cycle = _find_cycle(dict(import_graph()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("layer", ABOVE_STUDENTS)
def test_students_import_nothing_above_them(layer: str) -> None:
    graph = import_graph()
    for module in graph:
        if _in(module, "students"):
            bad = sorted(m for m in _reachable(module, graph) if _in(m, layer))
            assert not bad, f"{module} imports {bad} (directly or through other modules)"


def test_teachers_do_not_import_students() -> None:
    graph = import_graph()
    bad = sorted(m for m in _reachable(f"{PACKAGE}.teachers", graph) if _in(m, "students"))
    assert not bad, f"teachers imports {bad}"


def test_persistence_knows_no_concrete_class() -> None:
    graph = import_graph()
    concrete = ("students", "teachers", "distill", "_training")
    bad = sorted(
        m for m in _reachable(f"{PACKAGE}.persistence", graph) if any(_in(m, c) for c in concrete)
    )
    assert not bad, f"persistence imports {bad}"


def test_report_imports_no_estimator_module() -> None:
    graph = import_graph()
    for module, imported in graph.items():
        if _in(module, "report"):
            bad = sorted(m for m in imported if any(_in(m, e) for e in ESTIMATOR_MODULES))
            assert not bad, f"{module} imports the estimator modules {bad}"


def test_every_module_imports_on_its_own() -> None:
    """Each module, imported first in a fresh set of package modules, imports cleanly."""
    names = sorted(_modules())
    script = textwrap.dedent(
        f"""
        import importlib, sys, traceback
        failed = []
        for name in {names!r}:
            for loaded in [m for m in sys.modules if m == {PACKAGE!r}
                           or m.startswith({PACKAGE!r} + ".")]:
                del sys.modules[loaded]
            try:
                importlib.import_module(name)
            except Exception:
                failed.append(name + "\\n" + traceback.format_exc(limit=3))
        print("\\n".join(failed))
        sys.exit(1 if failed else 0)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT.parent,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------------- student registry
def test_registry_lists_the_students_in_cli_order() -> None:
    assert [(k.name, k.kind, k.label) for k in REGISTRY.values()] == [
        ("logistic", "logistic_regression", "logistic regression"),
        ("mlp", "shallow_mlp", "shallow MLP"),
        ("tree", "soft_decision_tree", "soft tree"),
        ("additive", "additive_model", "additive model"),
    ]
    assert [k.estimator for k in REGISTRY.values()] == [
        SoftLogisticRegression,
        ShallowMLPClassifier,
        SoftDecisionTreeClassifier,
        AdditiveClassifier,
    ]
    assert REGISTRY["tree"].make(random_state=1).get_params()["depth"] == 4
    assert REGISTRY["tree"].make(depth=2).depth == 2
    assert [*(k.estimator for k in REGISTRY.values()), MLPTeacher] == ALL_ESTIMATORS


def test_kind_of_matches_the_exact_class_and_looks_inside_distilled_models() -> None:
    class Sub(SoftLogisticRegression):
        pass

    assert kind_of(SoftLogisticRegression()) is REGISTRY["logistic"]
    assert kind_of(Sub()) is None
    assert kind_of(object()) is None

    class Wrapper:
        student_ = SoftLogisticRegression()

    assert kind_of(Wrapper()) is REGISTRY["logistic"]


def test_a_toy_student_registers_with_one_line_and_unregisters() -> None:
    class ToyStudent(SoftLogisticRegression):
        """A logistic regression under another name."""

    kind = register(StudentKind("toy", "toy_student", "toy", ToyStudent, {"max_epochs": 2}))
    try:
        assert list(REGISTRY)[-1] == "toy"
        with pytest.raises(ValueError, match="clashes"):
            register(StudentKind("toy", "other", "other", SoftLogisticRegression))
        X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
        y = (X[:, 0] > 0).astype(int)
        model = kind.make(random_state=0).fit(X, y)
        assert kind_of(model) is kind
        assert model.complexity() == {"parameters": 8, "nonzero_coefficients": 3}
    finally:
        unregister("toy")
    assert "toy" not in REGISTRY


def test_students_give_their_complexity_and_readable_view() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4)).astype(np.float32)
    y = np.digitize(X[:, 0], [-0.5, 0.5])
    views = {}
    for name, kind in REGISTRY.items():
        model = kind.make(random_state=0, max_epochs=2).fit(X, y)
        complexity = model.complexity(X)
        assert "kind" not in complexity and complexity["parameters"] == model.n_parameters_
        views[name] = model.readable_view()
    assert views["logistic"]["view"] == "coefficients"
    assert views["logistic"]["coef"].shape == (3, 4)
    assert views["logistic"]["intercept"].shape == (3,)
    assert views["mlp"]["view"] == "hidden_weights"
    assert views["mlp"]["hidden_weights"].shape == (16, 4)
    assert views["mlp"]["output_weights"].shape == (3, 16)
    tree = views["tree"]
    assert tree["view"] == "soft_tree"
    assert tree["node_weights"].shape == tree["node_filter_weights"].shape == (15, 4)
    assert tree["node_biases"].shape == (15,) and tree["leaf_distributions"].shape == (16, 3)
    assert tree["node_reach"].shape == (15,) and tree["leaf_reach"].shape == (16,)
    assert isinstance(tree["node_table"], pd.DataFrame)
    assert isinstance(tree["leaf_table"], pd.DataFrame)
    assert isinstance(tree["inverse_temperature"], float)
