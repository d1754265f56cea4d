"""Shared fixtures: fixed seeds and small, fast data sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

torch.set_num_threads(1)  # the suite runs on 2 cores; one thread per process is fastest


@pytest.fixture(autouse=True)
def seeds_fixed() -> None:
    """Every test starts from the same global random state."""
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def binary_data() -> tuple[np.ndarray, np.ndarray]:
    """200 rows, 5 features (3 informative), two nearly linearly separable classes."""
    X, y = make_classification(
        n_samples=200,
        n_features=5,
        n_informative=3,
        n_redundant=0,
        n_clusters_per_class=1,
        class_sep=1.5,
        random_state=4,
    )
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def multiclass_data() -> tuple[np.ndarray, np.ndarray]:
    """300 rows, 6 features, three classes."""
    X, y = make_classification(
        n_samples=300,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=1,
    )
    return X.astype(np.float32), y
