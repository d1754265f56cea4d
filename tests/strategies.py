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
