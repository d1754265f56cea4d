"""interpretable_kd: distil black-box classifiers into white-box students and measure how
faithful each student is."""

from .distill import DistilledClassifier, distill
from .exceptions import (
    InputError,
    InterpretableKDError,
    InterpretableKDWarning,
    LowFidelityWarning,
    NotFittedError,
    ParameterError,
    TeacherOutputError,
)
from .losses import kd_loss, soften
from .persistence import load_model as load
from .persistence import save_model as save
from .report import DistillationReport
from .students import ShallowMLPClassifier, SoftDecisionTreeClassifier, SoftLogisticRegression
from .teachers import MLPTeacher, Teacher, as_teacher

__version__ = "0.1.0"

#: Every public scikit-learn estimator; tests run scikit-learn's checks over this list.
ALL_ESTIMATORS = [
    SoftLogisticRegression,
    ShallowMLPClassifier,
    SoftDecisionTreeClassifier,
    MLPTeacher,
]

__all__ = [
    "ALL_ESTIMATORS",
    "DistillationReport",
    "DistilledClassifier",
    "InputError",
    "InterpretableKDError",
    "InterpretableKDWarning",
    "LowFidelityWarning",
    "MLPTeacher",
    "NotFittedError",
    "ParameterError",
    "ShallowMLPClassifier",
    "SoftDecisionTreeClassifier",
    "SoftLogisticRegression",
    "Teacher",
    "TeacherOutputError",
    "__version__",
    "as_teacher",
    "distill",
    "kd_loss",
    "load",
    "save",
    "soften",
]
