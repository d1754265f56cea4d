"""The bad-input catalogue of the public API: every case gets a clear error that names the
problem, as a ValueError or TypeError, raised by us (or scikit-learn's standard checks) and
never from deep inside torch. The command line's cases are in test_cli_bad_input.py."""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import interpretable_kd as ikd
from interpretable_kd.attributions import explain

rng = np.random.default_rng(0)
X = rng.normal(size=(60, 4)).astype(np.float32)
y = (X[:, 0] > 0).astype(int)
FRAME = pd.DataFrame(X, columns=["a", "b", "c", "d"])
FAST = {"max_epochs": 3, "random_state": 0}


def _with(value: Any, row: int = 5, col: int = 2) -> np.ndarray:
    Z = X.astype(object) if isinstance(value, str) else X.copy()
    Z[row, col] = value
    return Z


def _fitted_student() -> ikd.SoftLogisticRegression:
    return ikd.SoftLogisticRegression(**FAST).fit(FRAME, y)


def _teacher() -> LogisticRegression:
    return LogisticRegression().fit(X, y)


def _kd(**params: Any) -> ikd.DistilledClassifier:
    return ikd.DistilledClassifier(_teacher(), ikd.SoftLogisticRegression(**FAST), **params)


def _mixed() -> np.ndarray:
    labels = y.astype(object)
    labels[labels == 1] = "yes"
    return labels


def _callable_teacher(output: Any, kind: str) -> Any:
    return ikd.as_teacher(lambda Z: output(len(Z)), output=kind)


CASES: list[tuple[str, Callable[[], Any], str]] = [
    (
        "NaN in X",
        lambda: ikd.SoftLogisticRegression(**FAST).fit(_with(np.nan), y),
        "Input X contains NaN",
    ),
    ("inf in X", lambda: _kd().fit(_with(np.inf), y), "Input X contains infinity"),
    (
        "-inf in X at predict",
        lambda: _fitted_student().predict(pd.DataFrame(_with(-np.inf), columns=FRAME.columns)),
        "Input X contains infinity",
    ),
    (
        "a string in X",
        lambda: ikd.ShallowMLPClassifier(**FAST).fit(_with("seven"), y),
        "needs numeric features.*not numbers",
    ),
    (
        "a text column",
        lambda: ikd.SoftLogisticRegression(**FAST).fit(FRAME.assign(job="clerk"), y),
        "non-numeric columns 'job'",
    ),
    (
        "1-d X",
        lambda: ikd.SoftLogisticRegression(**FAST).fit(X[:, 0], y),
        "Expected 2D array, got 1D array",
    ),
    (
        "3-d X",
        lambda: ikd.SoftLogisticRegression(**FAST).fit(X[:, :, None], y),
        "Found array with dim 3",
    ),
    ("empty X", lambda: ikd.SoftDecisionTreeClassifier(**FAST).fit(X[:0], y[:0]), "0 sample"),
    ("no columns", lambda: ikd.SoftLogisticRegression(**FAST).fit(X[:, :0], y), "0 feature"),
    (
        "one class",
        lambda: ikd.ShallowMLPClassifier(**FAST).fit(X, np.zeros(60)),
        "at least two classes",
    ),
    (
        "continuous y",
        lambda: ikd.SoftLogisticRegression(**FAST).fit(X, X[:, 0]),
        "Unknown label type",
    ),
    ("y of the wrong length", lambda: _kd().fit(X, y[:10]), r"needs y of shape \(60,\)"),
    (
        "labels unseen by the teacher",
        lambda: _kd().fit(X, y + 1),
        "labels in y that the teacher does not know: 2",
    ),
    (
        "fewer features at predict",
        lambda: _fitted_student().predict(X[:, :3]),
        "X has 3 features, but SoftLogisticRegression is expecting 4",
    ),
    (
        "renamed features at predict",
        lambda: _fitted_student().predict(FRAME.rename(columns={"a": "z"})),
        "feature names should match",
    ),
    (
        "features the teacher does not have",
        lambda: _kd().fit(np.hstack([X, X]), y),
        r"X has 8 features, but the teacher \(LogisticRegression\) is expecting 4",
    ),
    (
        "teacher output of the wrong shape",
        lambda: ikd.DistilledClassifier(
            _callable_teacher(lambda n: np.zeros((n, 2, 2)), "logits"),
            ikd.SoftLogisticRegression(**FAST),
        ).fit(X),
        r"returned logits of shape \(60, 2, 2\)",
    ),
    (
        "teacher rows that do not sum to 1",
        lambda: ikd.DistilledClassifier(
            _callable_teacher(lambda n: np.full((n, 2), 0.7), "proba"),
            ikd.SoftLogisticRegression(**FAST),
        ).fit(X),
        "rows do not sum to 1",
    ),
    (
        "negative teacher probabilities",
        lambda: ikd.DistilledClassifier(
            _callable_teacher(lambda n: np.tile([-0.5, 1.5], (n, 1)), "proba"),
            ikd.SoftLogisticRegression(**FAST),
        ).fit(X),
        "negative probabilities",
    ),
    (
        "NaN teacher output",
        lambda: ikd.DistilledClassifier(
            _callable_teacher(lambda n: np.full((n, 2), np.nan), "logits"),
            ikd.SoftLogisticRegression(**FAST),
        ).fit(X),
        "non-finite logits",
    ),
    (
        "a one-column teacher",
        lambda: ikd.DistilledClassifier(
            _callable_teacher(lambda n: np.ones((n, 1)), "proba"),
            ikd.SoftLogisticRegression(**FAST),
        ).fit(X),
        "single column",
    ),
    (
        "temperature 0",
        lambda: _kd(temperature=0).fit(X, y),
        r"'temperature' .* range \[0\.01, 100\]\. Got 0 instead",
    ),
    ("negative temperature", lambda: _kd(temperature=-2.0).fit(X, y), r"Got -2\.0 instead"),
    ("infinite temperature", lambda: _kd(temperature=float("inf")).fit(X, y), "Got inf instead"),
    ("NaN temperature", lambda: _kd(temperature=float("nan")).fit(X, y), "Got nan instead"),
    ("temperature as text", lambda: _kd(temperature="hot").fit(X, y), "Got 'hot' of type str"),
    (
        "hard_label_weight above 1",
        lambda: _kd(hard_label_weight=2).fit(X, y),
        r"'hard_label_weight' .* range \[0, 1\]\. Got 2",
    ),
    (
        "depth 0",
        lambda: ikd.SoftDecisionTreeClassifier(depth=0, **FAST).fit(X, y),
        "'depth' parameter of SoftDecisionTreeClassifier",
    ),
    (
        "absurd depth",
        lambda: ikd.SoftDecisionTreeClassifier(depth=40, **FAST).fit(X, y),
        "'depth' parameter of SoftDecisionTreeClassifier",
    ),
    (
        "unknown prediction mode",
        lambda: ikd.SoftDecisionTreeClassifier(prediction="maxpath", **FAST).fit(X, y),
        "Did you mean 'max_path'",
    ),
    (
        "duplicate column names",
        lambda: ikd.SoftLogisticRegression(**FAST).fit(
            FRAME.set_axis(["a", "a", "c", "d"], axis=1), y
        ),
        "duplicate column names: 'a'",
    ),
    ("values of 1e30", lambda: _kd().fit(_with(1e30), y), r"magnitude 1e\+30 .*StandardScaler"),
    ("predict before fit", lambda: ikd.ShallowMLPClassifier().predict(X), "not fitted yet"),
    ("distilled predict before fit", lambda: _kd().predict(X), "not fitted yet"),
    (
        "unknown augmentation",
        lambda: _kd(augment="smote").fit(X, y),
        "'augment' parameter .* must be one of None, 'gaussian', 'mixup', 'both'",
    ),
    ("negative n_augment", lambda: _kd(augment="mixup", n_augment=-5).fit(X, y), "'n_augment'"),
    ("unfitted teacher", lambda: ikd.as_teacher(LogisticRegression()), "not fitted yet"),
    ("callable teacher without output", lambda: ikd.as_teacher(lambda Z: Z), "output='proba'"),
    ("scores without rows", lambda: ikd.as_teacher(np.ones((60, 2)) / 2), "no X"),
    (
        "scores for other rows",
        lambda: ikd.DistilledClassifier(
            ikd.as_teacher(np.ones((60, 2)) / 2, X=X),
            ikd.SoftLogisticRegression(**FAST),
            augment="gaussian",
        ).fit(X),
        "no scores for 60 of the 60 rows",
    ),
    (
        "unknown explainer",
        lambda: explain(_fitted_student(), FRAME, FRAME, method="tree"),
        "'method' parameter of explain",
    ),
    (
        "report without students",
        lambda: ikd.DistillationReport.from_models(_teacher(), {}, X, y),
        "non-empty dict",
    ),
    (
        "max_epochs as text",
        lambda: ikd.SoftLogisticRegression(max_epochs="ten").fit(X, y),
        "'max_epochs' .* must be 'auto' or an int",
    ),
    (
        "batch_size 0",
        lambda: ikd.ShallowMLPClassifier(batch_size=0).fit(X, y),
        r"'batch_size' .* range \[1, inf\]",
    ),
    (
        "early_stopping as text",
        lambda: ikd.SoftLogisticRegression(early_stopping="no", **FAST).fit(X, y),
        r"'early_stopping' .* must be True or False\. Got 'no' of type str",
    ),
    (
        "verbose as an int",
        lambda: ikd.ShallowMLPClassifier(verbose=1, **FAST).fit(X, y),
        r"'verbose' .* must be True or False\. Got 1 of type int",
    ),
    (
        "device meta",
        lambda: ikd.SoftDecisionTreeClassifier(device="meta", **FAST).fit(X, y),
        "does not train on 'meta' devices",
    ),
    (
        "device mps without MPS",
        lambda: ikd.ShallowMLPClassifier(device="mps", **FAST).fit(X, y),
        "no MPS",
    ),
    (
        "unknown device",
        lambda: ikd.MLPTeacher(device="gpu0", **FAST).fit(X, y),
        "must be 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto'",
    ),
    (
        "y with None",
        lambda: ikd.SoftLogisticRegression(**FAST).fit(X, np.where(y == 1, 1, None)),
        r"missing label\(s\) in y \(None or NaN\)",
    ),
    (
        "y mixing int and str",
        lambda: _kd().fit(X, _mixed()),
        "labels y of mixed kinds",
    ),
    (
        "a complex column",
        lambda: ikd.SoftLogisticRegression(**FAST).fit(FRAME.assign(d=FRAME["d"] + 2j), y),
        r"complex numbers \(columns 'd'\)",
    ),
    (
        "temperature 1e-40",
        lambda: _kd(temperature=1e-40).fit(X, y),
        r"'temperature' .* \[0\.01, 100\]\. Got 1e-40",
    ),
    (
        "temperature 1e20",
        lambda: _kd(temperature=1e20).fit(X, y),
        r"'temperature' .* \[0\.01, 100\]\. Got 1e\+20",
    ),
    (
        "temperature 1e200 in fit_distill",
        lambda: ikd.SoftLogisticRegression(**FAST).fit_distill(
            X, np.zeros((len(X), 2)), classes=[0, 1], temperature=1e200
        ),
        r"'temperature' parameter of SoftLogisticRegression .* Got 1e\+200",
    ),
    (
        "n_augment of a billion",
        lambda: _kd(augment="mixup", n_augment=10**9).fit(X, y),
        r"'n_augment' .* would take about .* GiB; the limit is 2 GiB",
    ),
]


@pytest.mark.parametrize(("case", "call", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error(case: str, call: Callable[[], Any], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message) as info:
        call()
    frames = traceback.extract_tb(info.value.__traceback__)
    assert "/torch/" not in frames[-1].filename, f"{case}: raised from inside torch"
    if case != "renamed features at predict":  # scikit-learn's standard message, kept as is
        assert "\n" not in str(info.value), f"{case}: message is not one line"


def test_the_catalogue_is_large_enough() -> None:
    assert len(CASES) >= 30
