"""White-box students: scikit-learn classifiers written in torch, and the registry of
student kinds that the CLI, the comparison and the report read."""

from .._training import TorchClassifier
from .logistic import SoftLogisticRegression
from .mlp import ShallowMLPClassifier
from .registry import REGISTRY, StudentKind, kind_of, register, unregister
from .soft_tree import SoftDecisionTreeClassifier

__all__ = [
    "REGISTRY",
    "ShallowMLPClassifier",
    "SoftDecisionTreeClassifier",
    "SoftLogisticRegression",
    "StudentKind",
    "TorchClassifier",
    "kind_of",
    "register",
    "unregister",
]
