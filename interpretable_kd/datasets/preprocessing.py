"""Preprocessing that keeps feature names readable: :class:`TabularPreprocessor`.

Numeric columns keep their name, categories become one-hot columns named ``column=value``
(``workclass=Private``), NaN gets an indicator column ``column=missing``. The output is a
float32 DataFrame of shape (n_samples, n_features_out).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import StandardScaler

from .._validation import check_choice, check_fitted, check_number, format_items
from ..exceptions import InputError, InputTypeError

__all__ = ["TabularPreprocessor", "column_kind"]

_OWNER = "TabularPreprocessor"
_OTHER = "other"
_MISSING = "missing"
_NA_KEY = "\x00<NA>"  # stands for NaN among category values


def _as_frame(X: Any, owner: str) -> pd.DataFrame:
    """A DataFrame with string column names; 2-d arrays get the names x0, x1, ...

    Parameters
    ----------
    X : DataFrame, 2-d array or nested list of shape (n_samples, n_features)
        The table to check.
    owner : str
        Who is asking, for the error messages.

    Returns
    -------
    pandas.DataFrame of shape (n_samples, n_features)
        ``X`` itself when its column names are already strings.
    """
    if isinstance(X, pd.Series) or scipy.sparse.issparse(X):
        raise InputTypeError(
            f"{owner} needs a dense 2-d table X, but got a {type(X).__name__} (sparse input "
            "is not supported). Pass a DataFrame: `series.to_frame()` for a Series, "
            "`X.toarray()` for a sparse matrix."
        )
    if not isinstance(X, pd.DataFrame):
        X = _frame_from_array(X, owner)
    names = [str(column) for column in X.columns]
    if len(set(names)) != len(names):
        duplicates = sorted({n for n in names if names.count(n) > 1})
        raise InputError(
            f"{owner} got a DataFrame with duplicate column names: {format_items(duplicates)}. "
            "Rename the columns so that each feature has its own name."
        )
    return X.set_axis(names, axis=1) if names != list(X.columns) else X


def _frame_from_array(X: Any, owner: str) -> pd.DataFrame:
    """Columns x0, x1, ... from a 2-d array or nested list (dtypes inferred per column).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Not a DataFrame.
    owner : str
        Who is asking, for the error messages.

    Returns
    -------
    pandas.DataFrame of shape (n_samples, n_features)
    """
    if not isinstance(X, list | tuple):
        X = np.asarray(X)
    try:
        shape = np.shape(X)
    except ValueError as exc:  # ragged nested lists
        raise InputError(f"{owner} needs a 2-d table X, but got ragged rows ({exc}).") from exc
    if len(shape) != 2:
        raise InputError(
            f"{owner} needs a 2-d table X (a DataFrame or an array of shape "
            f"(n_samples, n_features)), but got an array of shape {shape}. Reshape your "
            "data: X.reshape(-1, 1) for a single feature, X.reshape(1, -1) for a single row."
        )
    frame = pd.DataFrame(X).infer_objects()
    frame.columns = [f"x{i}" for i in range(shape[1])]
    return frame


def _check_not_empty(frame: pd.DataFrame, owner: str) -> None:
    """Refuse a table with no rows or no columns (sklearn's wording, plus what to check).

    Parameters
    ----------
    frame : pandas.DataFrame of shape (n_samples, n_features)
    owner : str
        Who is asking, for the error message.

    Returns
    -------
    None
    """
    for size, what in ((frame.shape[0], "sample"), (frame.shape[1], "feature")):
        if size == 0:
            raise InputError(
                f"{owner} found 0 {what}(s) (shape={frame.shape}) while a minimum of 1 is "
                "required. Check that the file, filter or column selection is not empty."
            )


def column_kind(series: pd.Series) -> str:
    """How :class:`TabularPreprocessor` encodes a column, from its dtype.

    Parameters
    ----------
    series : pandas.Series of shape (n_samples,)

    Returns
    -------
    {"boolean", "numeric", "categorical"}
        Other dtypes (complex, datetime, ...) raise an InputError.
    """
    dtype = series.dtype
    if pd.api.types.is_complex_dtype(dtype):
        raise InputError(
            f"Complex data not supported: {_OWNER} got column {series.name!r} of dtype "
            f"{dtype}. Split it into real and imaginary parts (or take the absolute value)."
        )
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    ):
        return "categorical"
    raise InputError(
        f"{_OWNER} cannot encode column {series.name!r} of dtype {dtype}: it handles "
        "numbers, booleans and categories (strings, object, category). Convert it first, "
        "for example a date to a number of days, or drop it."
    )


def _numeric_values(series: pd.Series) -> np.ndarray:
    """float64 values of a numeric (or boolean) column, NaN where missing.

    Parameters
    ----------
    series : pandas.Series of shape (n_samples,)

    Returns
    -------
    ndarray of float64, shape (n_samples,)
    """
    if column_kind(series) == "categorical":
        try:
            series = pd.to_numeric(series)
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"{_OWNER} learned column {series.name!r} as numeric, but it now holds "
                f"values that are not numbers ({exc}). Mark missing values as empty or "
                "NaN (for pandas.read_csv: na_values=['?'])."
            ) from exc
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(values).any():
        raise InputError(
            f"{_OWNER} got infinite values in column {series.name!r}. Replace them with "
            "NaN (missing) or a finite number."
        )
    return values


def _category_keys(series: pd.Series) -> pd.Series:
    """Values of a categorical column as strings (pandas' nullable string dtype).

    Parameters
    ----------
    series : pandas.Series of shape (n_samples,)

    Returns
    -------
    pandas.Series of shape (n_samples,), dtype "string"
    """
    return series.astype("string")


def _category_slots(keys: pd.Series, name: str, max_categories: int | None) -> dict[str, str]:
    """Map each category seen in training to its output column name.

    Insertion order is output order: kept values sorted (``name=value``), then the rare
    ones (``name=other``: beyond ``max_categories`` values, only the
    ``max_categories - 1`` most frequent are kept), then NaN (key ``_NA_KEY``, output
    ``name=missing``).

    Parameters
    ----------
    keys : pandas.Series of shape (n_samples,)
        Category values as strings (:func:`_category_keys`).
    name : str
        The column's name.
    max_categories : int or None
        Most output columns, ``name=other`` included; None keeps every value.

    Returns
    -------
    dict of str to str
        Training value (or ``_NA_KEY``) -> output column name.
    """
    counts = keys.value_counts(dropna=True)
    order = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    n_kept = len(order)
    if max_categories is not None and len(order) > max_categories:
        n_kept = max_categories - 1
    kept = sorted(str(value) for value, _ in order[:n_kept])
    rare = sorted(str(value) for value, _ in order[n_kept:])
    slots = {value: f"{name}={value}" for value in kept}
    slots.update({value: f"{name}={_OTHER}" for value in rare})
    if keys.isna().any():
        slots[_NA_KEY] = f"{name}={_MISSING}"
    return slots


def _unique_in_order(names: list[str]) -> list[str]:
    """Drop repeated names, keeping the first of each.

    Parameters
    ----------
    names : list of str

    Returns
    -------
    list of str
    """
    return list(dict.fromkeys(names))


class TabularPreprocessor(TransformerMixin, BaseEstimator):
    """Encode a table of mixed columns as float32 features with readable names.

    - Numeric columns keep their name. NaN is replaced by the training median (and, with
      ``missing="indicator"``, a 0/1 column ``name=missing`` is added for columns that
      had NaN in training). With ``scale=True`` they are standardised with the training
      mean and standard deviation (a constant column gets scale 1).
    - Boolean columns become one 0/1 column under their own name (not scaled).
    - Categorical columns (object, string, category dtypes) become one-hot columns
      ``name=value``, sorted by value; NaN is its own category ``name=missing``.
      Beyond ``max_categories`` distinct values, the rarer ones share ``name=other``.
      A value first seen at transform time gives zeros in all columns of its group.

    Columns at transform time are matched by name; extra columns are ignored, missing
    ones raise an :class:`~interpretable_kd.exceptions.InputError`. Numbers, booleans and
    categories are detected from the dtypes, so numeric columns with few distinct values
    (counts, ratings) stay numeric.

    Parameters
    ----------
    scale : bool, default=True
        Standardise numeric columns with statistics of the training rows.
    max_categories : int or None, default=50
        Most one-hot columns per categorical column, ``name=other`` included (not counting
        ``name=missing``). None keeps every value.
    missing : {"indicator", "impute"}, default="indicator"
        For numeric NaN: impute the median and add an indicator column ("indicator"), or
        only impute ("impute").

    Attributes
    ----------
    feature_names_in_ : ndarray of str, shape (n_features_in,)
    n_features_in_ : int
    kinds_ : dict of str to str
        "numeric", "boolean" or "categorical" per input column.
    medians_ : dict of str to float
        Training median of each numeric and boolean column (0.0 when all were NaN).
    indicators_ : list of str
        Numeric and boolean columns that get a ``name=missing`` indicator.
    scaler_ : StandardScaler or None
        Fitted on the imputed numeric columns of the training rows.
    categories_ : dict of str to dict of str to str
        Per categorical column: training value -> output column name.
    feature_names_out_ : ndarray of str, shape (n_features_out,)

    Examples
    --------
    >>> frame = pd.DataFrame({"age": [30, 40, None], "job": ["a", "b", None]})
    >>> TabularPreprocessor().fit(frame).get_feature_names_out().tolist()
    ['age', 'age=missing', 'job=a', 'job=b', 'job=missing']
    """

    def __init__(
        self, scale: bool = True, max_categories: int | None = 50, missing: str = "indicator"
    ):
        self.scale = scale
        self.max_categories = max_categories
        self.missing = missing

    def fit(self, X: Any, y: Any = None) -> TabularPreprocessor:
        """Learn columns, medians, scaling and categories.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self : TabularPreprocessor
        """
        max_categories = check_number(
            self.max_categories, "max_categories", _OWNER, integer=True, low=2, allow_none=True
        )
        check_choice(self.missing, "missing", _OWNER, ("indicator", "impute"))
        frame = _as_frame(X, _OWNER)
        _check_not_empty(frame, f"{_OWNER}.fit")
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        self.n_features_in_ = frame.shape[1]
        self.kinds_ = {name: column_kind(frame[name]) for name in frame.columns}
        self._fit_numeric(frame)
        self.categories_ = {
            name: _category_slots(_category_keys(frame[name]), name, max_categories)
            for name, kind in self.kinds_.items()
            if kind == "categorical"
        }
        self.feature_names_out_ = np.asarray(self._output_names(), dtype=object)
        return self

    def _fit_numeric(self, frame: pd.DataFrame) -> None:
        """Learn ``medians_``, ``indicators_`` and ``scaler_`` from the numeric columns.

        Parameters
        ----------
        frame : pandas.DataFrame of shape (n_samples, n_features)

        Returns
        -------
        None
        """
        self.medians_: dict[str, float] = {}
        self.indicators_: list[str] = []
        for name, kind in self.kinds_.items():
            if kind == "categorical":
                continue
            values = _numeric_values(frame[name])
            missing = np.isnan(values)
            self.medians_[name] = float(np.median(values[~missing])) if (~missing).any() else 0.0
            if missing.any() and self.missing == "indicator":
                self.indicators_.append(name)
        scaled = self._scaled_columns()
        self.scaler_ = None
        if self.scale and scaled:
            imputed = np.column_stack([self._imputed(frame[name]) for name in scaled])
            self.scaler_ = StandardScaler().fit(imputed)

    def _scaled_columns(self) -> list[str]:
        """Names of the numeric (scaled) columns, in input order.

        Returns
        -------
        list of str
        """
        return [name for name, kind in self.kinds_.items() if kind == "numeric"]

    def _imputed(self, series: pd.Series) -> np.ndarray:
        """Numeric values with NaN replaced by the training median.

        Parameters
        ----------
        series : pandas.Series of shape (n_samples,)

        Returns
        -------
        ndarray of float64, shape (n_samples,)
        """
        values = _numeric_values(series)
        return np.where(np.isnan(values), self.medians_[str(series.name)], values)

    def _output_names(self) -> list[str]:
        """Output column names in order; duplicates raise an InputError.

        Returns
        -------
        list of str
        """
        names: list[str] = []
        for name, kind in self.kinds_.items():
            if kind == "categorical":
                names.extend(_unique_in_order(list(self.categories_[name].values())))
                continue
            names.append(name)
            if name in self.indicators_:
                names.append(f"{name}={_MISSING}")
        if len(set(names)) != len(names):
            clashes = sorted({n for n in names if names.count(n) > 1})
            raise InputError(
                f"{_OWNER} would create duplicate feature names {format_items(clashes)}: "
                "a column name collides with a one-hot name 'column=value'. Rename it."
            )
        return names

    def transform(self, X: Any) -> pd.DataFrame:
        """Encode ``X`` with what ``fit`` learned.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features_in)
            DataFrame columns are matched by name (extra ones are ignored).

        Returns
        -------
        pandas.DataFrame of shape (n_samples, n_features_out), float32
            Columns ``get_feature_names_out()``, index that of ``X``.
        """
        check_fitted(self, "feature_names_out_")
        frame = _as_frame(X, _OWNER)
        if not isinstance(X, pd.DataFrame) and frame.shape[1] != self.n_features_in_:
            raise InputError(
                f"X has {frame.shape[1]} features, but {_OWNER} is expecting "
                f"{self.n_features_in_} features as input."
            )
        absent = [name for name in self.feature_names_in_ if name not in frame.columns]
        if absent:
            raise InputError(
                f"{_OWNER}.transform got a table without the column(s) {format_items(absent)} "
                f"that it was fitted on ({len(self.feature_names_in_)} columns). Pass the "
                "same columns as in fit (extra columns are ignored)."
            )
        values = np.empty((len(frame), len(self.feature_names_out_)), dtype=np.float32)
        start = 0
        for name in self.feature_names_in_:
            block = self._encode(frame[name])
            values[:, start : start + block.shape[1]] = block
            start += block.shape[1]
        return pd.DataFrame(values, index=frame.index, columns=list(self.feature_names_out_))

    def _encode(self, series: pd.Series) -> np.ndarray:
        """The output columns of one input column.

        Parameters
        ----------
        series : pandas.Series of shape (n_samples,)

        Returns
        -------
        ndarray of shape (n_samples, n_outputs)
            One column, plus ``name=missing`` for numeric columns with an indicator.
        """
        name = str(series.name)
        if self.kinds_[name] == "categorical":
            return self._one_hot(series)
        values = self._imputed(series)
        if self.kinds_[name] == "numeric" and self.scaler_ is not None:
            position = self._scaled_columns().index(name)
            mean = self.scaler_.mean_[position]
            values = (values - mean) / self.scaler_.scale_[position]
        columns = [values]
        if name in self.indicators_:
            columns.append(np.isnan(_numeric_values(series)).astype(np.float64))
        return np.column_stack(columns)

    def _one_hot(self, series: pd.Series) -> np.ndarray:
        """One-hot columns of a categorical column; unseen values give all zeros.

        Parameters
        ----------
        series : pandas.Series of shape (n_samples,)

        Returns
        -------
        ndarray of float32, shape (n_samples, n_outputs)
        """
        slots = self.categories_[str(series.name)]
        outputs = _unique_in_order(list(slots.values()))
        position = {output: i for i, output in enumerate(outputs)}
        keys = _category_keys(series).to_numpy(dtype=object, na_value=_NA_KEY)
        codes = pd.Index(list(slots), dtype=object).get_indexer(pd.Index(keys))  # -1: unseen
        column_of_code = np.array([position[out] for out in slots.values()], dtype=np.intp)
        encoded = np.zeros((len(series), len(outputs)), dtype=np.float32)
        rows = np.flatnonzero(codes >= 0)
        encoded[rows, column_of_code[codes[rows]]] = 1.0
        return encoded

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Output column names, e.g. ``['age', 'workclass=Private', ...]``.

        Parameters
        ----------
        input_features : ignored
            Accepted for scikit-learn.

        Returns
        -------
        ndarray of str, shape (n_features_out,)
        """
        check_fitted(self, "feature_names_out_")
        return np.asarray(self.feature_names_out_, dtype=object)

    def __sklearn_tags__(self) -> Any:
        """scikit-learn tags: NaN, categories and strings allowed; output always float32.

        Returns
        -------
        sklearn.utils.Tags
        """
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []  # always float32
        return tags
