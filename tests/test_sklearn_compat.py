"""scikit-learn's own conformance suite, run over every public estimator.

The array-API checks are left out on purpose: our estimators convert every input to a
NumPy array (then a torch tensor) and do not claim array-API support, and scikit-learn
only skips those checks anyway unless SCIPY_ARRAY_API is set.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from sklearn.utils.estimator_checks import estimator_checks_generator

from interpretable_kd import ALL_ESTIMATORS

FAST = {"max_epochs": 40, "random_state": 0}
FAST_PARAMS: dict[str, dict[str, Any]] = {
    "SoftDecisionTreeClassifier": {"depth": 3},
    "MLPTeacher": {"hidden_units": (16,), "learning_rate": 0.01},
}


def _check_name(check: Any) -> str:
    return check.func.__name__ if isinstance(check, partial) else check.__name__


def _cases() -> list[Any]:
    cases = []
    for cls in ALL_ESTIMATORS:
        estimator = cls(**FAST, **FAST_PARAMS.get(cls.__name__, {}))
        expected = getattr(estimator, "_expected_failed_checks", dict)()
        for est, check in estimator_checks_generator(
            estimator, expected_failed_checks=expected, mark="xfail"
        ):
            name = _check_name(check)
            if "array_api" in name:
                continue
            cases.append(pytest.param(est, check, id=f"{cls.__name__}-{name}"))
    return cases


@pytest.mark.parametrize(("estimator", "check"), _cases())
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)


def test_every_public_estimator_is_checked() -> None:
    names = {cls.__name__ for cls in ALL_ESTIMATORS}
    assert names == {
        "SoftLogisticRegression",
        "ShallowMLPClassifier",
        "SoftDecisionTreeClassifier",
        "AdditiveClassifier",
        "MLPTeacher",
    }
