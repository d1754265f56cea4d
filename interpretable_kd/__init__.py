"""interpretable_kd: distil black-box classifiers into white-box students and measure how
faithful each student is."""

from ._version import __version__
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
from .students import (
    REGISTRY,
    ShallowMLPClassifier,
    SoftDecisionTreeClassifier,
    SoftLogisticRegression,
)
from .students.additive import AdditiveClassifier
from .teachers import MLPTeacher, Teacher, as_teacher

#: Every public scikit-learn estimator (each registered student kind, then the trainable
#: teacher); tests run scikit-learn's checks over this list.
ALL_ESTIMATORS = [*(kind.estimator for kind in REGISTRY.values()), MLPTeacher]

__all__ = [
    "ALL_ESTIMATORS",
    "AdditiveClassifier",
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
