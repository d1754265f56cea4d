"""Error and warning classes.

Every error also inherits from a built-in (``ValueError`` or ``TypeError``), so code that
catches the built-in keeps working.
"""

from sklearn.exceptions import NotFittedError as _SklearnNotFittedError

__all__ = [
    "DegenerateModelWarning",
    "InputError",
    "InputTypeError",
    "InterpretableKDError",
    "InterpretableKDWarning",
    "LowFidelityWarning",
    "NotFittedError",
    "ParameterError",
    "PersistenceError",
    "ReportError",
    "TeacherOutputError",
    "TrainingError",
]


class InterpretableKDError(Exception):
    """Base class of every error raised by interpretable_kd."""


class InputError(InterpretableKDError, ValueError):
    """Raised when data (X, y, a CSV file) has a value the library cannot use."""


class InputTypeError(InterpretableKDError, TypeError):
    """Raised when an argument has a type the library cannot use."""


class ParameterError(InterpretableKDError, ValueError):
    """Raised when a hyperparameter or option is outside its allowed range."""


class TeacherOutputError(InterpretableKDError, ValueError):
    """Raised when a teacher returns outputs of the wrong shape, non-finite values or rows
    that are declared probabilities but do not sum to one."""


class TrainingError(InterpretableKDError, ValueError):
    """Raised when training diverges (the loss becomes NaN or infinite)."""


class NotFittedError(InterpretableKDError, _SklearnNotFittedError):
    """Raised when a model is used before ``fit`` (or after an interrupted ``fit``)."""


class PersistenceError(InterpretableKDError, ValueError):
    """Raised when a saved model cannot be read: unknown format, newer version, bad file."""


class ReportError(InterpretableKDError, ValueError):
    """Raised when a report cannot be written where it was asked to go."""


class InterpretableKDWarning(UserWarning):
    """Base class of every warning issued by interpretable_kd."""


class LowFidelityWarning(InterpretableKDWarning):
    """Issued when a student disagrees with its teacher on more rows than a threshold."""


class DegenerateModelWarning(InterpretableKDWarning):
    """Issued when a model fitted on labels of several classes predicts a single class on
    its own training rows (it learned nothing: unscaled columns, a learning rate that is
    too high or too low, or too few epochs are the usual causes)."""
