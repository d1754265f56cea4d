"""Data, constants and the cells CSV of :mod:`benchmarks.surrogates` (shared with its
report, :mod:`benchmarks._surrogates_report`, which needs no model code)."""

from __future__ import annotations

import csv
import fcntl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from interpretable_kd.datasets import TabularPreprocessor, split_dataset

from . import fidelity

NAME = "surrogates"
DATASETS = fidelity.DATASETS
QUICK_DATASETS = ("breast_cancer", "wine")
LARGE = ("adult", "synthetic_100k")
SEEDS = (0, 1, 2, 3, 4)
LARGE_SEEDS = 3  # adult and synthetic_100k: fewer seeds (each is minutes per model)
TEACHERS = ("MLPTeacher", "HistGradientBoosting")
EBM_MAX_ROWS = 20_000  # EBM at its defaults (14 bags) fits on a sample this size where larger
EBM_DEFAULT_SEEDS = (
    1  # EBM at its defaults (14 outer bags, minutes per fit): first seed, not on LARGE
)
EBM_ONE_BAG = "EBM (1 bag)"
EBM_DEFAULT = "EBM (defaults)"

#: One row of ``surrogates_cells.csv``; the key of a cell is the first five columns.
COLUMNS = (
    "dataset",
    "teacher",
    "seed",
    "model",
    "columns",
    "family",
    "student",
    "n_train",
    "n_test",
    "n_features",
    "n_classes",
    "fit_rows",
    "teacher_accuracy",
    "teacher_fit_seconds",
    "label_seconds",
    "fidelity",
    "accuracy",
    "fit_seconds",
    "temperature",
    "epochs",
    "teacher_agreement",
)
KEY = COLUMNS[:5]


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Data:
    """One seed's split, standardised (``X_*``) and in the data's own units (``R_*``).

    ``X = R * scale + shift`` column by column (one-hot columns: scale 1, shift 0).
    """

    name: str
    X_train: np.ndarray
    X_test: np.ndarray
    R_train: np.ndarray
    R_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    scale: np.ndarray
    shift: np.ndarray
    #: Column names as a user's DataFrame has them ("column=value" for one-hot columns);
    #: the distilled students get them, as they would from ``split_dataset``.
    names: tuple[str, ...] = ()


def load_data(name: str, seed: int) -> Data:
    """The stratified 70/30 split of :func:`benchmarks.fidelity.load_split` (same rows,
    same standardised features) plus the same rows with unscaled numeric columns."""
    if name == "synthetic_100k":
        X, y = fidelity.synthetic()
        R_train, R_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, random_state=seed, stratify=y
        )
        scaler = StandardScaler().fit(R_train)
        X_train, X_test = scaler.transform(R_train), scaler.transform(R_test)
        names: tuple[str, ...] = tuple(f"x{j}" for j in range(X_train.shape[1]))
    else:
        split = split_dataset(name, test_size=0.3, random_state=seed, preprocess=False)
        scaled = TabularPreprocessor().fit(split.X_train)
        raw = TabularPreprocessor(scale=False).fit(split.X_train)
        X_train, X_test = scaled.transform(split.X_train), scaled.transform(split.X_test)
        R_train, R_test = raw.transform(split.X_train), raw.transform(split.X_test)
        assert list(X_train.columns) == list(R_train.columns), "column order differs"
        names = tuple(str(c) for c in X_train.columns)
        y_train, y_test = split.y_train, split.y_test
    as32 = [np.ascontiguousarray(a, dtype=np.float32) for a in (X_train, X_test, R_train, R_test)]
    scale, shift = column_affine(as32[2], as32[0])
    return Data(name, *as32, np.asarray(y_train), np.asarray(y_test), scale, shift, names)


def column_affine(raw: np.ndarray, scaled: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column ``(a, b)`` with ``scaled = raw * a + b``, from the training rows.

    Parameters
    ----------
    raw, scaled : ndarray of shape (n_rows, n_features)
        The same rows before and after standardisation.

    Returns
    -------
    scale, shift : ndarray of shape (n_features,), float64
        ``a = sd(scaled) / sd(raw)`` (1 for a constant column) and
        ``b = mean(scaled) - a * mean(raw)``.
    """
    raw64, scaled64 = raw.astype(np.float64), scaled.astype(np.float64)
    sd_raw = raw64.std(axis=0)
    scale = np.where(sd_raw > 0, scaled64.std(axis=0) / np.where(sd_raw > 0, sd_raw, 1.0), 1.0)
    shift = scaled64.mean(axis=0) - scale * raw64.mean(axis=0)
    error = np.abs(raw64 * scale + shift - scaled64).max()
    assert error < 1e-3 * max(1.0, float(np.abs(scaled64).max())), f"not affine: {error}"
    return scale, shift


# --------------------------------------------------------------------------- cells
def append_rows(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Append rows to the cells CSV under an exclusive lock (workers share the file);
    the header goes in first when the file is empty."""
    for row in rows:
        unknown = sorted(set(row) - set(COLUMNS))
        if unknown:
            raise ValueError(
                f"Cells CSV rows take the columns of COLUMNS; got unknown column(s) {unknown}. "
                "Add them to COLUMNS (and start a new CSV: --resume reads the old header)."
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS, extrasaction="raise")
            if handle.tell() == 0:
                writer.writeheader()
            for row in rows:
                writer.writerow({c: row.get(c, "") for c in COLUMNS})
            handle.flush()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def finished_cells(path: Path) -> set[tuple[str, ...]]:
    """Keys (data set, teacher, seed, model, columns) of the cells already in ``path``."""
    if not path.exists():
        return set()
    with path.open(newline="", encoding="utf-8") as handle:
        return {tuple(str(row[k]) for k in KEY) for row in csv.DictReader(handle)}


def read_cells(path: Path) -> pd.DataFrame:
    """The cells CSV, one row per cell (the first copy of a cell written twice), sorted
    by data set (benchmark order), teacher and seed."""
    cells = pd.read_csv(path).drop_duplicates(subset=list(KEY))
    cells["_d"] = cells["dataset"].map({d: i for i, d in enumerate(DATASETS)})
    cells["_t"] = cells["teacher"].map({t: i for i, t in enumerate(TEACHERS)})
    cells = cells.sort_values(["_d", "_t", "seed"], kind="stable")
    return cells.drop(columns=["_d", "_t"]).reset_index(drop=True)
