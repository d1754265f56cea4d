"""scikit-learn's own conformance suite, run over every public estimator."""

from __future__ import annotations

from typing import Any

from sklearn.utils.estimator_checks import parametrize_with_checks

from interpretable_kd import ALL_ESTIMATORS

FAST = {"max_epochs": 40, "random_state": 0}


def _instances() -> list[Any]:
    return [
        cls(**FAST, **ALL_ESTIMATORS_FAST_PARAMS.get(cls.__name__, {})) for cls in ALL_ESTIMATORS
    ]


ALL_ESTIMATORS_FAST_PARAMS: dict[str, dict[str, Any]] = {
    "SoftDecisionTreeClassifier": {"depth": 3},
    "MLPTeacher": {"hidden_units": (16,), "learning_rate": 0.01},
}


def _expected_failures(estimator: Any) -> dict[str, str]:
    return getattr(estimator, "_expected_failed_checks", lambda: {})()


@parametrize_with_checks(_instances(), expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks(estimator: Any, check: Any) -> None:
    check(estimator)
