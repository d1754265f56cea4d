"""The student kinds the benchmarks train, read from the library's student registry.

Every benchmark iterates over :data:`interpretable_kd.students.REGISTRY` through this
module, so a newly registered student is benchmarked without editing any benchmark.
Result tables name a kind by its registry label (``StudentKind.label``), except where the
result files committed before the registry used a shorter name; those names are kept so
that old and new results line up.
"""

from __future__ import annotations

from typing import Any

from interpretable_kd.students import REGISTRY, StudentKind

__all__ = ["STUDENTS", "TREE_DEPTH", "make_student", "table_name"]

#: Registry name -> name in the benchmark tables, where it differs from the label.
_TABLE_NAMES = {"logistic": "logistic"}


def table_name(kind: StudentKind) -> str:
    """The name of a student kind in the benchmark tables.

    Parameters
    ----------
    kind : StudentKind
        A registered kind.

    Returns
    -------
    str
        ``kind.label``, or the older table name where one exists (``"logistic"``).
    """
    return _TABLE_NAMES.get(kind.name, kind.label)


#: Table name -> student kind, in registry order.
STUDENTS: dict[str, StudentKind] = {table_name(kind): kind for kind in REGISTRY.values()}

#: Depth of the soft tree the benchmarks train (its 2^depth leaves size the CART baseline).
TREE_DEPTH: int = int(REGISTRY["tree"].defaults["depth"])


def make_student(name: str, **params: Any) -> Any:
    """A new, unfitted student with the registry's defaults.

    Parameters
    ----------
    name : str
        Table name of the kind (a key of :data:`STUDENTS`).
    **params
        Constructor arguments; they override the registry's defaults.

    Returns
    -------
    estimator
        ``STUDENTS[name].make(**params)``.

    Raises
    ------
    ValueError
        If ``name`` is not a table name.
    """
    kind = STUDENTS.get(name)
    if kind is None:
        raise ValueError(f"unknown student {name!r}; known: {', '.join(STUDENTS)}")
    return kind.make(**params)
