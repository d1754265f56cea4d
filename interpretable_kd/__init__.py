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
from .students import ShallowMLPClassifier, SoftLogisticRegression
from .teachers import MLPTeacher, Teacher, as_teacher

__version__ = "0.1.0"

#: Every public scikit-learn estimator; tests run scikit-learn's checks over this list.
ALL_ESTIMATORS = [SoftLogisticRegression, ShallowMLPClassifier, MLPTeacher]

__all__ = [
    "ALL_ESTIMATORS",
    "DistilledClassifier",
    "InputError",
    "InterpretableKDError",
    "InterpretableKDWarning",
    "LowFidelityWarning",
    "MLPTeacher",
    "NotFittedError",
    "ParameterError",
    "ShallowMLPClassifier",
    "SoftLogisticRegression",
    "Teacher",
    "TeacherOutputError",
    "__version__",
    "as_teacher",
    "distill",
    "kd_loss",
    "soften",
]
