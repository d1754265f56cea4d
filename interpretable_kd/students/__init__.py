"""White-box students: scikit-learn classifiers written in torch."""

from ._base import TorchClassifier
from .logistic import SoftLogisticRegression
from .mlp import ShallowMLPClassifier
from .soft_tree import SoftDecisionTreeClassifier

__all__ = [
    "ShallowMLPClassifier",
    "SoftDecisionTreeClassifier",
    "SoftLogisticRegression",
    "TorchClassifier",
]
