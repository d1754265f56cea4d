"""Input checks shared by every estimator, teacher and report.

Each check raises an error that names who complains, which parameter, what was expected,
what arrived and how to fix it. Checks run in ``fit``/``predict``, never in ``__init__``.
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted, validate_data

from ._defaults import MAX_TEMPERATURE, MIN_TEMPERATURE
from .exceptions import InputError, InputTypeError, NotFittedError, ParameterError

# Marks "no y was passed" apart from "y=None was passed" (which is an error for fit).
NO_Y: Any = object()

# Inputs beyond this magnitude overflow float32 arithmetic inside a network.
MAX_ABS_FEATURE = 1e15


def format_items(items: Iterable[Any], limit: int = 5) -> str:
    """``['a', 'b', 'c']`` -> ``"'a', 'b', 'c'"``, cut short with "... and N more"."""
    items = list(items)
    shown = ", ".join(repr(item) for item in items[:limit])
    if len(items) > limit:
        shown += f" ... and {len(items) - limit} more"
    return shown


def did_you_mean(value: object, choices: Sequence[str]) -> str:
    """A " Did you mean 'x'?" suffix when ``value`` is close to one of ``choices``."""
    if not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.5)
    return f" Did you mean {close[0]!r}?" if close else ""


def check_bool(value: object, name: str, owner: str) -> bool:
    """A boolean hyperparameter: ``True`` or ``False`` (numpy booleans too), nothing else.

    ``"no"`` is truthy in Python, so a bool parameter given as text (or as 0/1) is refused
    rather than read by its truthiness.

    Parameters
    ----------
    value : object
        What the user passed.
    name, owner : str
        The parameter and who asks, for the message.

    Returns
    -------
    bool
        The value as a Python bool.

    Raises
    ------
    InputTypeError
        For anything but a bool.
    """
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise InputTypeError(
        f"The {name!r} parameter of {owner} must be True or False. Got {value!r} of type "
        f"{type(value).__name__} instead. Pass the bool itself, e.g. {name}=False."
    )


def check_choice(value: object, name: str, owner: str, choices: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise a ParameterError.

    When the choices are the two booleans, only a bool is accepted
    (:func:`check_bool`): ``1 in [True, False]`` holds in Python, ``"no"`` is truthy.
    """
    if len(choices) == 2 and all(isinstance(c, bool) for c in choices):
        return check_bool(value, name, owner)
    if value in choices:
        return value
    str_choices = [c for c in choices if isinstance(c, str)]
    raise ParameterError(
        f"The {name!r} parameter of {owner} must be one of {format_items(choices, 10)}. "
        f"Got {value!r} instead.{did_you_mean(value, str_choices)}"
    )


def _interval(low: float | None, high: float | None, closed: str) -> str:
    left = "[" if closed in ("both", "left") else "("
    right = "]" if closed in ("both", "right") else ")"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}{right}"


def check_number(
    value: object,
    name: str,
    owner: str,
    *,
    integer: bool = False,
    low: float | None = None,
    high: float | None = None,
    closed: str = "both",
    allow_none: bool = False,
) -> Any:
    """Check a scalar hyperparameter: type, finiteness and interval.

    ``closed`` is one of "both", "left", "right", "neither" and says which ends of
    ``[low, high]`` are allowed. Returns the value as ``int`` or ``float``.
    """
    if value is None and allow_none:
        return None
    kind = "an int" if integer else "a float"
    where = f" in the range {_interval(low, high, closed)}"
    message = f"The {name!r} parameter of {owner} must be {kind}{where}"
    if allow_none:
        message += " or None"
    is_number = isinstance(value, numbers.Integral if integer else numbers.Real)
    if not is_number or isinstance(value, bool):
        raise (InputTypeError if value is not None else ParameterError)(
            f"{message}. Got {value!r} of type {type(value).__name__} instead."
        )
    number = int(value) if integer else float(value)  # type: ignore[call-overload,arg-type]
    if not math.isfinite(number):
        raise ParameterError(f"{message}. Got {value!r} instead.")
    below = low is not None and (number < low or (number == low and closed in ("right", "neither")))
    above = high is not None and (
        number > high or (number == high and closed in ("left", "neither"))
    )
    if below or above:
        raise ParameterError(f"{message}. Got {value!r} instead.")
    return number


def check_auto_int(value: object, name: str, owner: str, *, low: int = 1) -> Any:
    """A size hyperparameter that is either ``"auto"`` or an int >= ``low``.

    Returns ``"auto"`` or the value as an int; raises a ParameterError (or an
    InputTypeError for a value of the wrong type) that names the parameter and both
    accepted forms.
    """
    if isinstance(value, str):
        if value == "auto":
            return value
        raise ParameterError(
            f"The {name!r} parameter of {owner} must be 'auto' or an int in the range "
            f"{_interval(low, None, 'both')}. Got {value!r} instead. Use 'auto' (the default) "
            "to let the "
            "library choose it from the number of training rows."
        )
    is_int = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not is_int or int(value) < low:  # type: ignore[call-overload]
        error = InputTypeError if not is_int and value is not None else ParameterError
        raise error(
            f"The {name!r} parameter of {owner} must be 'auto' or an int in the range "
            f"{_interval(low, None, 'both')}. Got {value!r} of type {type(value).__name__} "
            "instead. Use "
            "'auto' (the default) to let the library choose it from the number of "
            "training rows."
        )
    return int(value)  # type: ignore[call-overload]


def is_int(value: object) -> bool:
    """Whether ``value`` is an integer (Python or numpy, ``np.int64(8)`` included), not a
    bool.

    Parameters
    ----------
    value : object
        Anything.

    Returns
    -------
    bool
        True for ints and numpy integers.
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def is_private_copy(X: np.ndarray, original: Any) -> bool:
    """True when the checked array X shares no memory with what the user passed, so
    that it may be overwritten in place (the user's data is never modified).

    Parameters
    ----------
    X : ndarray
        What :func:`check_X` returned.
    original : object
        What the user passed (an array, a DataFrame, a list ...).

    Returns
    -------
    bool
        False whenever sharing cannot be ruled out.
    """
    if X is original:
        return False
    if isinstance(original, list | tuple):
        return True
    if isinstance(original, np.ndarray):
        return not np.may_share_memory(X, original)
    if isinstance(original, pd.DataFrame):
        return not any(
            np.may_share_memory(X, np.asarray(original.iloc[:, j]))
            for j in range(original.shape[1])
        )
    return False


def check_temperature(value: object, owner: str, name: str = "temperature") -> float:
    """A distillation temperature: a number in ``[MIN_TEMPERATURE, MAX_TEMPERATURE]``.

    The one place a temperature is validated (``fit_distill``, ``DistilledClassifier``,
    the streaming fit; the CLI uses the same bounds). Outside [0.01, 100] the softened
    targets ``softmax(z / T)`` underflow or overflow in float32 (T = 1e-40 or 1e20 made
    every loss NaN, which was then blamed on the features).

    Parameters
    ----------
    value : object
        What the user passed.
    owner : str
        Who asks, for the message.
    name : str
        The parameter's name.

    Returns
    -------
    float
        T.

    Raises
    ------
    InputTypeError, ParameterError
        Not a real number, or outside the range (one line naming ``temperature``).
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        number = float(value)
        if math.isfinite(number) and not MIN_TEMPERATURE <= number <= MAX_TEMPERATURE:
            raise ParameterError(
                f"The {name!r} parameter of {owner} must be a float in the range "
                f"{temperature_range()}. Got {value!r} instead: beyond it the softened targets "
                "underflow or overflow in float32. Usual values are 0.1 to 4, or 'auto'."
            )
    return float(check_number(value, name, owner, low=MIN_TEMPERATURE, high=MAX_TEMPERATURE))


def temperature_range() -> str:
    """The accepted temperatures as text, ``"[0.01, 100]"``.

    Returns
    -------
    str
        The closed interval.
    """
    return _interval(MIN_TEMPERATURE, MAX_TEMPERATURE, "both")


def check_weight(value: object, owner: str, name: str = "hard_label_weight") -> float:
    """A mixing weight in [0, 1]."""
    return float(check_number(value, name, owner, low=0.0, high=1.0))


def _reject_non_numeric_columns(X: pd.DataFrame, owner: str) -> None:
    if X.columns.duplicated().any():
        dupes = X.columns[X.columns.duplicated()].unique().tolist()
        raise InputError(
            f"{owner} got a DataFrame X with duplicate column names: {format_items(dupes)}. "
            "Rename the columns so that each feature has its own name."
        )
    complex_columns = [
        col for col, dtype in X.dtypes.items() if pd.api.types.is_complex_dtype(dtype)
    ]
    if complex_columns:
        raise InputError(_complex_message(owner, f"columns {format_items(complex_columns)}"))
    bad = [
        col
        for col, dtype in X.dtypes.items()
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))
    ]
    if bad:
        raise InputError(
            f"{owner} needs numeric features, but X has non-numeric columns "
            f"{format_items(bad)}. Encode them first, for example with "
            "interpretable_kd.datasets.TabularPreprocessor (one-hot for categories)."
        )


def _complex_message(owner: str, where: str) -> str:
    return (
        f"Complex data not supported: {owner} needs real-valued features, but X holds "
        f"complex numbers ({where}). Pass the real part, the magnitude or both as separate "
        "columns (e.g. np.abs(X))."
    )


def check_X(
    estimator: Any,
    X: Any,
    *,
    reset: bool,
    y: Any = NO_Y,
    owner: str | None = None,
) -> Any:
    """Validate X (and y, if given) for ``estimator`` and return float32 arrays.

    Wraps scikit-learn's ``validate_data`` (which records or checks ``n_features_in_`` and
    ``feature_names_in_``, with scikit-learn's standard messages) and adds checks for
    non-numeric columns and values too large for float32 training.

    Returns ``X`` of shape (n_samples, n_features), float32, or ``(X, y)`` when ``y`` is
    passed (``y`` as a 1-d array, unchanged in type; ``y=None`` is then an error).
    """
    owner = owner or type(estimator).__name__
    if isinstance(X, np.ndarray) and X.dtype.kind == "c":
        raise InputError(_complex_message(owner, f"dtype {X.dtype}"))
    if isinstance(X, pd.DataFrame):
        _reject_non_numeric_columns(X, owner)
        if all(isinstance(c, str) for c in X.columns):
            # numpy.str_ names (from e.g. load_breast_cancer().feature_names) are names too
            X = X.set_axis([str(c) for c in X.columns], axis=1)
    if y is not NO_Y and y is not None:
        check_label_values(y, owner)
    try:
        if y is NO_Y:
            X = validate_data(estimator, X, reset=reset, dtype=[np.float64, np.float32])
        else:
            X, y = validate_data(estimator, X, y, reset=reset, dtype=[np.float64, np.float32])
    except TypeError as exc:
        if "complex" in str(exc):  # a list holding complex numbers
            raise InputError(_complex_message(owner, "found while converting X")) from None
        raise
    except ValueError as exc:
        message = str(exc)
        if "Complex data not supported" in message:  # drop the dump of the data itself
            raise InputError(_complex_message(owner, "found by scikit-learn")) from None
        if "could not convert" in message or "Unable to convert" in message:
            raise InputError(
                f"{owner} needs numeric features, but X holds values that are not numbers "
                f"({message}). Encode categorical columns first, for example with "
                "interpretable_kd.datasets.TabularPreprocessor."
            ) from exc
        if "contains NaN" in message or "contains infinity" in message:
            first = message.splitlines()[0]
            raise InputError(
                f"{first} {owner} does not accept missing or infinite values; impute or drop "
                "them first (e.g. sklearn.impute.SimpleImputer, or "
                "interpretable_kd.datasets.TabularPreprocessor for a DataFrame)."
            ) from exc
        if "Expected 2D array" in message:  # drop the dump of the array itself
            short = re.sub(r"\s*array=.*?(?=Reshape)", " ", message, flags=re.DOTALL)
            raise InputError(" ".join(short.split())) from exc
        raise
    _check_magnitude(X, owner)
    X = np.ascontiguousarray(X, dtype=np.float32)
    if not X.flags.writeable:  # e.g. a copy-on-write pandas view; torch wants writable memory
        X = X.copy()
    return X if y is NO_Y else (X, y)


def _check_magnitude(X: np.ndarray, owner: str) -> None:
    if X.size == 0:
        return
    largest = max(float(X.max()), -float(X.min()))  # no full-size |X| temporary
    if largest > MAX_ABS_FEATURE:
        row, col = np.unravel_index(int(np.argmax(np.abs(X))), X.shape)
        raise InputError(
            f"{owner} got X with a value of magnitude {largest:.3g} (row {row}, column {col}); "
            f"values beyond {MAX_ABS_FEATURE:.0e} overflow float32 training. Scale the features "
            "first, for example with sklearn.preprocessing.StandardScaler."
        )


def check_fitted(estimator: Any, attributes: str | list[str] | None = None) -> None:
    """Raise our NotFittedError (a scikit-learn NotFittedError) when not fitted."""
    interrupted = getattr(estimator, "_fit_interrupted", False)
    try:
        check_is_fitted(estimator, attributes)
    except Exception as exc:  # sklearn raises its own NotFittedError
        name = type(estimator).__name__
        why = " Its last call to fit was interrupted before it finished." if interrupted else ""
        raise NotFittedError(
            f"This {name} instance is not fitted yet.{why} Call 'fit' with appropriate "
            "arguments before using this estimator."
        ) from exc


def check_label_values(y: Any, owner: str) -> np.ndarray:
    """Labels as a 1-d array whose values are all present and of one kind.

    A label array of object dtype may hold None (or NaN) for a missing label, or mix
    numbers and strings (``[0, 1, 'a']``); both used to reach scikit-learn's "Unknown
    label type: unknown", which names neither cause.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        The labels.
    owner : str
        Who asks, for the message.

    Returns
    -------
    ndarray
        ``np.asarray(y)``.

    Raises
    ------
    InputError
        For a missing label (None or NaN) or labels of mixed kinds, naming the first rows.
    """
    y = np.asarray(y)
    if y.dtype.kind == "f" and y.size and np.isnan(y).any():
        rows = np.flatnonzero(np.isnan(y))
        raise InputError(_missing_label_message(owner, rows))
    if y.dtype.kind != "O":
        return y
    flat = y.ravel()
    missing = [
        i for i, v in enumerate(flat) if v is None or (isinstance(v, float) and math.isnan(v))
    ]
    if missing:
        raise InputError(_missing_label_message(owner, np.asarray(missing)))
    kinds: dict[str, int] = {}
    for i, value in enumerate(flat):
        kind = (
            "str"
            if isinstance(value, str)
            else (
                "bool"
                if isinstance(value, bool | np.bool_)
                else ("number" if isinstance(value, numbers.Number) else type(value).__name__)
            )
        )
        kinds.setdefault(kind, i)
    if len(kinds) > 1:
        examples = ", ".join(f"{flat[i]!r} (row {i}, {kind})" for kind, i in kinds.items())
        raise InputError(
            f"{owner} got labels y of mixed kinds: {examples}. Use one kind for every label, "
            "e.g. y.astype(str), so that 1 and '1' are not two different classes."
        )
    return y


def _missing_label_message(owner: str, rows: np.ndarray) -> str:
    return (
        f"{owner} got {rows.size} missing label(s) in y (None or NaN) at rows "
        f"{format_items(rows.tolist())}. Drop those rows, or pass y=None to distil without "
        "labels."
    )


def check_labels_known(y: np.ndarray, classes: np.ndarray, owner: str) -> np.ndarray:
    """Map labels ``y`` to indices into ``classes``; raise if a label is unknown.

    Returns an int64 array of shape (n_samples,).
    """
    classes = np.asarray(classes)
    y = check_label_values(y, owner)
    try:
        unknown = np.setdiff1d(np.unique(y), classes)
    except TypeError as exc:  # labels of mixed, uncomparable types
        raise InputError(
            f"{owner} got labels y whose type ({y.dtype}) does not match the classes "
            f"{format_items(classes.tolist())}. Use the same label values as the teacher."
        ) from exc
    if unknown.size:
        raise InputError(
            f"{owner} got labels in y that the teacher does not know: "
            f"{format_items(unknown.tolist())}. The teacher's classes are "
            f"{format_items(classes.tolist(), 10)}. Relabel y, or pass y=None to distil "
            "without labels."
        )
    sorter = np.argsort(classes)
    return sorter[np.searchsorted(classes, y, sorter=sorter)].astype(np.int64)


def check_classification_y(y: Any, owner: str) -> np.ndarray:
    """Check that y has at least two classes (after scikit-learn's own target checks)."""
    from sklearn.utils.multiclass import check_classification_targets

    y = check_label_values(y, owner)
    check_classification_targets(y)
    classes = np.unique(y)
    if classes.size < 2:
        raise InputError(
            f"{owner} needs at least two classes in y to learn a classifier, but y has only "
            f"one class: {format_items(classes.tolist())}. Add rows of the other classes."
        )
    return classes
