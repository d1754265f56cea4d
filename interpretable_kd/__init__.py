"""interpretable_kd: distil black-box classifiers into white-box students and measure how
faithful each student is."""

from .exceptions import (
    InputError,
    InterpretableKDError,
    InterpretableKDWarning,
    LowFidelityWarning,
    NotFittedError,
    ParameterError,
    TeacherOutputError,
)

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "InterpretableKDError",
    "InterpretableKDWarning",
    "LowFidelityWarning",
    "NotFittedError",
    "ParameterError",
    "TeacherOutputError",
    "__version__",
]
