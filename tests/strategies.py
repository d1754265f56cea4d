"""Hypothesis strategies shared by the test suite (attrs style: all strategies live here)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

finite_logit = st.floats(-50.0, 50.0, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def logits_pairs(
    draw: st.DrawFn, max_rows: int = 8, max_classes: int = 6
) -> tuple[np.ndarray, np.ndarray]:
    """Two logit arrays of the same shape (n_rows, n_classes): student and teacher."""
    n_rows = draw(st.integers(1, max_rows))
    n_classes = draw(st.integers(2, max_classes))
    shape = (n_rows, n_classes)
    return draw(arrays(np.float64, shape, elements=finite_logit)), draw(
        arrays(np.float64, shape, elements=finite_logit)
    )


@st.composite
def feature_rows(
    draw: st.DrawFn, n_features: int, max_rows: int = 16, max_abs: float = 1e4
) -> np.ndarray:
    """A float32 matrix (n_rows, n_features) of finite values in [-max_abs, max_abs]:
    ordinary values and ones large enough to saturate a sigmoid."""
    n_rows = draw(st.integers(1, max_rows))
    elements = st.floats(-max_abs, max_abs, allow_nan=False, allow_infinity=False, width=32)
    return draw(arrays(np.float32, (n_rows, n_features), elements=elements))


# --------------------------------------------------------------------------- metrics


@st.composite
def label_pairs(
    draw: st.DrawFn, max_rows: int = 30, max_classes: int = 4
) -> tuple[np.ndarray, np.ndarray]:
    """Teacher and student class labels (ints) for the same 1..max_rows rows."""
    n_rows = draw(st.integers(1, max_rows))
    labels = st.integers(0, max_classes - 1)
    return draw(arrays(np.int64, n_rows, elements=labels)), draw(
        arrays(np.int64, n_rows, elements=labels)
    )


@st.composite
def proba_pairs(
    draw: st.DrawFn, max_rows: int = 10, max_classes: int = 5
) -> tuple[np.ndarray, np.ndarray]:
    """Two probability arrays of the same shape (n_rows, n_classes): rows are non-negative,
    sum to 1 and may contain exact zeros."""
    n_rows = draw(st.integers(1, max_rows))
    n_classes = draw(st.integers(2, max_classes))
    weight = st.one_of(st.just(0.0), st.floats(1e-6, 1.0, allow_nan=False))

    def one() -> np.ndarray:
        raw = draw(arrays(np.float64, (n_rows, n_classes), elements=weight))
        raw[raw.sum(axis=1) == 0, 0] = 1.0  # no all-zero rows
        return raw / raw.sum(axis=1, keepdims=True)

    return one(), one()


# --------------------------------------------------------------------------- attributions


@st.composite
def attribution_pairs(
    draw: st.DrawFn, max_rows: int = 6, max_features: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Two attribution arrays of the same shape (n_rows, n_features), signs mixed."""
    n_rows = draw(st.integers(1, max_rows))
    n_features = draw(st.integers(1, max_features))
    value = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)
    shape = (n_rows, n_features)
    return draw(arrays(np.float64, shape, elements=value)), draw(
        arrays(np.float64, shape, elements=value)
    )
