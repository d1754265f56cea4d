"""The one table of student kinds that the CLI, the comparison, the report, persistence
and the benchmarks read.

Adding a student means one module (a :class:`~interpretable_kd._training.TorchClassifier`
subclass with ``complexity`` and ``readable_view``) and one :func:`register` call (or one
line in :data:`REGISTRY` below).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .additive import AdditiveClassifier
from .logistic import SoftLogisticRegression
from .mlp import ShallowMLPClassifier
from .soft_tree import SoftDecisionTreeClassifier

__all__ = ["REGISTRY", "StudentKind", "kind_of", "register", "unregister"]


@dataclass(frozen=True)
class StudentKind:
    """One kind of student: its names and how to build it.

    Attributes
    ----------
    name : str
        The CLI name, e.g. ``"tree"``; the key in :data:`REGISTRY`.
    kind : str
        The ``"kind"`` written to ``metrics.json``, e.g. ``"soft_decision_tree"``.
    label : str
        The display name in the report and the CLI, e.g. ``"soft tree"``.
    estimator : type
        The estimator class.
    defaults : Mapping[str, Any]
        Constructor arguments the CLI and the benchmarks use, e.g. ``{"depth": 4}``.
    """

    name: str
    kind: str
    label: str
    estimator: type
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "defaults", MappingProxyType(dict(self.defaults)))

    def make(self, **params: Any) -> Any:
        """A new, unfitted estimator of this kind.

        Parameters
        ----------
        **params
            Constructor arguments; they override :attr:`defaults`.

        Returns
        -------
        estimator
            ``estimator(**{**defaults, **params})``.
        """
        return self.estimator(**{**self.defaults, **params})


#: Every student kind, keyed by ``StudentKind.name``, in CLI and report order.
REGISTRY: dict[str, StudentKind] = {}


def register(kind: StudentKind) -> StudentKind:
    """Add a student kind to :data:`REGISTRY` (at the end of the order).

    Parameters
    ----------
    kind : StudentKind
        The kind to add. Its ``name`` and ``kind`` must not be taken, and its estimator
        class must not be registered under another name.

    Returns
    -------
    StudentKind
        ``kind``, so that the call can be used as an expression.

    Raises
    ------
    ValueError
        If the name, the metrics kind or the class is already registered.
    """
    for other in REGISTRY.values():
        if kind.name == other.name or kind.kind == other.kind or kind.estimator is other.estimator:
            raise ValueError(
                f"Student kind {kind.name!r} ({kind.kind}, {kind.estimator.__name__}) clashes "
                f"with the registered {other.name!r} ({other.kind}, "
                f"{other.estimator.__name__}). Pick another name, or unregister the old one."
            )
    REGISTRY[kind.name] = kind
    return kind


def unregister(name: str) -> StudentKind:
    """Remove a student kind from :data:`REGISTRY` (tests add a toy kind, then remove it).

    Parameters
    ----------
    name : str
        The kind's CLI name.

    Returns
    -------
    StudentKind
        The removed kind.

    Raises
    ------
    KeyError
        If no kind has that name.
    """
    return REGISTRY.pop(name)


def kind_of(model: Any) -> StudentKind | None:
    """The registered kind of a student, or of the student inside a distilled model.

    Parameters
    ----------
    model : object
        A student, or a ``DistilledClassifier``-like object whose ``student_`` is one.

    Returns
    -------
    StudentKind or None
        The kind whose estimator is exactly ``type(getattr(model, "student_", model))``
        (subclasses do not match); None for any other model.
    """
    cls = type(getattr(model, "student_", model))
    for kind in REGISTRY.values():
        if kind.estimator is cls:
            return kind
    return None


register(
    StudentKind("logistic", "logistic_regression", "logistic regression", SoftLogisticRegression)
)
register(StudentKind("mlp", "shallow_mlp", "shallow MLP", ShallowMLPClassifier))
register(
    StudentKind("tree", "soft_decision_tree", "soft tree", SoftDecisionTreeClassifier, {"depth": 4})
)
register(StudentKind("additive", "additive_model", "additive model", AdditiveClassifier))
