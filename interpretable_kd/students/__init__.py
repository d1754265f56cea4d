"""White-box students: scikit-learn classifiers written in torch."""

from ._base import TorchClassifier
from .logistic import SoftLogisticRegression
from .mlp import ShallowMLPClassifier

__all__ = ["ShallowMLPClassifier", "SoftLogisticRegression", "TorchClassifier"]
