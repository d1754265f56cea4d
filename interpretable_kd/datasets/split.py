"""The one train/test split: :func:`train_test_indices` (row numbers) and
:func:`split_dataset` (a :class:`Dataset` into a :class:`DatasetSplit`).

Example::

    from interpretable_kd.datasets import load_dataset, split_dataset

    split = split_dataset(load_dataset("adult"), random_state=0)
    split.X_train.shape        # (34189, 107), float32 DataFrame
    split.feature_names[:3]    # ['age', 'workclass=Federal-gov', 'workclass=Local-gov']
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from .._defaults import TEST_SIZE
from .._validation import check_number
from ..exceptions import InputTypeError
from ._bundled import Dataset, load_dataset
from .preprocessing import TabularPreprocessor

__all__ = ["DatasetSplit", "split_dataset", "train_test_indices"]


def train_test_indices(
    y: np.ndarray, *, test_size: float, random_state: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers of a stratified train/test split, the one split of the library.

    The rows are those of ``sklearn.model_selection.train_test_split(..., stratify=y)``,
    in its (shuffled) order: the same seed and labels always give the same rows.

    Parameters
    ----------
    y : ndarray of shape (n_rows,)
        Class labels; every class needs at least 2 rows.
    test_size : float in (0, 1)
        Share of rows in the test part (checked by the caller).
    random_state : int or None
        Seed of the shuffle.

    Returns
    -------
    train : ndarray of int, shape (n_train,)
    test : ndarray of int, shape (n_test,)
        Disjoint row numbers into ``y``, n_test = ceil(test_size * n_rows).

    Raises
    ------
    ValueError
        From scikit-learn, when some class cannot be in both parts.
    """
    train, test = train_test_split(
        np.arange(len(y)), test_size=test_size, random_state=random_state, stratify=y
    )
    return train, test


@dataclass(frozen=True, eq=False, repr=False)
class DatasetSplit:
    """A stratified train/test split, ready for a teacher and its students.

    Attributes
    ----------
    X_train, X_test : pandas.DataFrame of shape (n_train, n_features), (n_test, n_features)
        Encoded float32 features (raw features when ``preprocess=False``); the index is the
        row number in ``Dataset.frame``.
    y_train, y_test : ndarray of str, shape (n_train,), (n_test,)
        Class labels.
    preprocessor : TabularPreprocessor or None
        Fitted on the training rows only (None when ``preprocess=False``).
    feature_names : list of str
        Columns of ``X_train`` (``workclass=Private`` style after preprocessing).
    class_names : list of str
        Sorted labels of the whole data set.
    name : str
        Name of the data set.
    """

    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray
    preprocessor: TabularPreprocessor | None
    feature_names: list[str]
    class_names: list[str]
    name: str

    def __repr__(self) -> str:
        """Name, shapes and classes; never the data.

        Returns
        -------
        str
        """
        return (
            f"DatasetSplit(name={self.name!r}, train={self.X_train.shape}, "
            f"test={self.X_test.shape}, classes={self.class_names!r})"
        )


def split_dataset(
    dataset: Dataset | str,
    *,
    test_size: float = TEST_SIZE,
    random_state: int | None = 0,
    preprocess: bool = True,
) -> DatasetSplit:
    """Split a data set (or a data set name) into stratified train and test parts.

    With ``preprocess=True`` a :class:`TabularPreprocessor` (default parameters) is fitted
    on the training rows only and then applied to both parts, so no statistic of the test
    rows (median, mean, scale, categories) leaks into training.

    Parameters
    ----------
    dataset : Dataset or str
        A loaded data set, or a name for :func:`load_dataset`.
    test_size : float in (0, 1), default=0.3
        Share of rows in the test part.
    random_state : int or None, default=0
        Seed of the shuffle; the same seed gives the same rows.
    preprocess : bool, default=True
        Encode the features; False keeps the raw frames.

    Returns
    -------
    DatasetSplit
    """
    if isinstance(dataset, str):
        dataset = load_dataset(dataset)
    if not isinstance(dataset, Dataset):
        raise InputTypeError(
            "The 'dataset' parameter of split_dataset must be a Dataset or a data set name "
            f"such as 'adult'. Got {type(dataset).__name__} instead. Use load_dataset(name)."
        )
    test_size = check_number(
        test_size, "test_size", "split_dataset", low=0, high=1, closed="neither"
    )
    y = dataset.target.to_numpy(dtype=str)
    train, test = train_test_indices(y, test_size=test_size, random_state=random_state)
    X_train: pd.DataFrame = dataset.frame.iloc[train]
    X_test: pd.DataFrame = dataset.frame.iloc[test]
    y_train, y_test = y[train], y[test]
    preprocessor = None
    if preprocess:
        preprocessor = TabularPreprocessor().fit(X_train)
        X_train, X_test = preprocessor.transform(X_train), preprocessor.transform(X_test)
    return DatasetSplit(
        X_train=X_train.copy(),
        X_test=X_test.copy(),
        y_train=y_train,
        y_test=y_test,
        preprocessor=preprocessor,
        feature_names=[str(column) for column in X_train.columns],
        class_names=list(dataset.class_names),
        name=dataset.name,
    )
