"""Tests for interpretable_kd.metrics: hand-computed values, properties, bad input and the
bootstrap's coverage and speed."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy

from interpretable_kd.exceptions import InputError, InputTypeError, ParameterError
from interpretable_kd.metrics import (
    agreement_matrix,
    bootstrap_ci,
    expected_calibration_error,
    fidelity_score,
    js_distance,
    kl_divergence,
    per_class_fidelity,
    total_variation,
)

from .strategies import label_pairs, proba_pairs

TEACHER = np.array([0, 0, 1, 1, 2, 1])
STUDENT = np.array([0, 1, 1, 1, 0, 2])


# --------------------------------------------------------------------------- labels


def test_fidelity_score_hand_computed() -> None:
    assert fidelity_score([0, 1, 1, 2], [0, 1, 2, 2]) == pytest.approx(0.75)
    assert fidelity_score(TEACHER, STUDENT) == pytest.approx(3 / 6)
    assert fidelity_score(["a", "b"], ["a", "b"]) == 1.0


def test_fidelity_score_accepts_column_vectors() -> None:
    assert fidelity_score(TEACHER[:, None], STUDENT) == pytest.approx(0.5)


@settings(max_examples=40, deadline=None)
@given(label_pairs())
def test_fidelity_in_unit_interval_and_one_for_identical(pair: tuple) -> None:
    teacher, student = pair
    assert 0.0 <= fidelity_score(teacher, student) <= 1.0
    assert fidelity_score(teacher, teacher) == 1.0


def test_per_class_fidelity_hand_computed() -> None:
    result = per_class_fidelity(TEACHER, STUDENT)
    assert list(result) == [0, 1, 2]
    assert result[0] == pytest.approx(1 / 2)  # teacher says 0 on rows 0, 1
    assert result[1] == pytest.approx(2 / 3)  # rows 2, 3, 5
    assert result[2] == 0.0  # row 4


def test_per_class_fidelity_follows_labels_order_and_gives_nan_for_unseen() -> None:
    result = per_class_fidelity(TEACHER, STUDENT, labels=[2, 7, 0])
    assert list(result) == [2, 7, 0]
    assert result[2] == 0.0
    assert math.isnan(result[7])
    assert result[0] == pytest.approx(0.5)


def test_agreement_matrix_counts() -> None:
    matrix = agreement_matrix(TEACHER, STUDENT)
    expected = np.array([[1, 1, 0], [0, 2, 1], [1, 0, 0]])
    np.testing.assert_array_equal(matrix, expected)
    assert matrix.sum() == len(TEACHER)
    assert np.trace(matrix) / matrix.sum() == pytest.approx(fidelity_score(TEACHER, STUDENT))


def test_agreement_matrix_normalized() -> None:
    by_teacher = agreement_matrix(TEACHER, STUDENT, labels=[0, 1, 2, 3], normalize="teacher")
    np.testing.assert_allclose(by_teacher[:3].sum(axis=1), 1.0)
    np.testing.assert_allclose(by_teacher[1], [0, 2 / 3, 1 / 3, 0])
    assert np.all(np.isnan(by_teacher[3]))  # the teacher never predicts 3
    assert agreement_matrix(TEACHER, STUDENT, normalize="all").sum() == pytest.approx(1.0)


def test_agreement_matrix_with_string_labels() -> None:
    matrix = agreement_matrix(["no", "yes", "yes"], ["yes", "yes", "yes"], labels=["yes", "no"])
    np.testing.assert_array_equal(matrix, [[2, 0], [1, 0]])


@settings(max_examples=40, deadline=None)
@given(label_pairs())
def test_agreement_matrix_sums_and_trace(pair: tuple) -> None:
    teacher, student = pair
    matrix = agreement_matrix(teacher, student, labels=[0, 1, 2, 3])
    assert matrix.sum() == len(teacher)
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(teacher, minlength=4))
    np.testing.assert_array_equal(matrix.sum(axis=0), np.bincount(student, minlength=4))
    assert np.trace(matrix) / len(teacher) == pytest.approx(fidelity_score(teacher, student))


def test_agreement_matrix_rejects_labels_missing_from_list() -> None:
    with pytest.raises(InputError, match=r"labels 2 that are not in labels=0, 1\. Add them"):
        agreement_matrix(TEACHER, STUDENT, labels=[0, 1])


def test_agreement_matrix_rejects_bad_normalize_with_suggestion() -> None:
    with pytest.raises(
        ParameterError, match=r"'normalize' parameter of agreement_matrix.*Did you mean 'teacher'"
    ):
        agreement_matrix(TEACHER, STUDENT, normalize="teachr")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: fidelity_score([0, 1, 1], [0, 1]), r"teacher_pred has 3, student_pred has 2"),
        (lambda: fidelity_score([], []), r"empty teacher_pred"),
        (lambda: fidelity_score(np.zeros((3, 2)), [0, 1, 1]), r"1-d array.*argmax"),
        (lambda: per_class_fidelity([0], [0], labels=[0, 0]), r"repeated values in labels"),
        (
            lambda: fidelity_score(["a", "b"], [0, 1]),
            r"teacher_pred of dtype <U1 and student_pred of dtype int64: one holds numbers",
        ),
        (lambda: per_class_fidelity([0], [0], labels=[]), r"non-empty list of class labels"),
    ],
)
def test_label_metrics_reject_bad_input(call: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        call()  # type: ignore[operator]


# --------------------------------------------------------------------------- distributions


def test_kl_divergence_hand_computed() -> None:
    p = np.array([[0.5, 0.5], [1.0, 0.0]])
    q = np.array([[0.9, 0.1], [0.5, 0.5]])
    first = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    np.testing.assert_allclose(kl_divergence(p, q, per_row=True), [first, math.log(2)])
    assert kl_divergence(p, q) == pytest.approx((first + math.log(2)) / 2)


def test_kl_divergence_clips_student_zeros_at_eps() -> None:
    value = kl_divergence([[0.5, 0.5]], [[1.0, 0.0]], eps=1e-12)
    assert value == pytest.approx(0.5 * math.log(0.5) + 0.5 * math.log(0.5 / 1e-12))
    assert np.isfinite(value)


@settings(max_examples=40, deadline=None)
@given(proba_pairs())
def test_kl_nonnegative_zero_for_identical_and_matches_scipy(pair: tuple) -> None:
    p, q = pair
    per_row = kl_divergence(p, q, per_row=True)
    assert np.all(per_row >= 0)
    np.testing.assert_allclose(kl_divergence(p, p, per_row=True), 0.0, atol=1e-12)
    expected = entropy(p, np.clip(q, 1e-12, None), axis=1)  # scipy renormalises q: tiny diff
    np.testing.assert_allclose(per_row, expected, rtol=1e-6, atol=1e-6)


def test_js_distance_hand_computed_and_bounds() -> None:
    assert js_distance([[1.0, 0.0]], [[0.0, 1.0]]) == pytest.approx(math.sqrt(math.log(2)))
    assert js_distance([[0.3, 0.7]], [[0.3, 0.7]]) == 0.0
    p, q = np.array([[0.2, 0.8]]), np.array([[0.6, 0.4]])
    m = (p + q) / 2
    js = 0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m))
    assert js_distance(p, q) == pytest.approx(math.sqrt(js))


@settings(max_examples=40, deadline=None)
@given(proba_pairs())
def test_js_symmetric_bounded_and_matches_scipy(pair: tuple) -> None:
    p, q = pair
    forward = js_distance(p, q, per_row=True)
    np.testing.assert_allclose(forward, js_distance(q, p, per_row=True), atol=1e-12)
    assert np.all((forward >= 0) & (forward <= math.sqrt(math.log(2)) + 1e-12))
    with np.errstate(invalid="ignore"):
        reference = jensenshannon(p, q, axis=1)
    # scipy takes the square root of a rounding error of -1e-17 for equal rows: NaN for 0.
    np.testing.assert_allclose(forward, np.nan_to_num(reference, nan=0.0), atol=1e-7)


def test_total_variation_hand_computed() -> None:
    p = [[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]]
    q = [[0.2, 0.5, 0.3], [0.0, 0.0, 1.0]]
    np.testing.assert_allclose(total_variation(p, q, per_row=True), [0.3, 1.0])
    assert total_variation(p, q) == pytest.approx(0.65)


@settings(max_examples=40, deadline=None)
@given(proba_pairs())
def test_total_variation_in_unit_interval_and_symmetric(pair: tuple) -> None:
    p, q = pair
    tv = total_variation(p, q, per_row=True)
    assert np.all((tv >= 0) & (tv <= 1))
    np.testing.assert_allclose(tv, total_variation(q, p, per_row=True))
    assert total_variation(p, p) == 0.0


def test_expected_calibration_error_hand_computed() -> None:
    proba = np.array([[0.95, 0.05], [0.75, 0.25], [0.3, 0.7], [0.55, 0.45]])
    y = np.array([0, 1, 1, 0])
    # bins of width 0.2: {0.95} acc 1, {0.75, 0.7} acc 1/2, {0.55} acc 1
    expected = (abs(1 - 0.95) + 2 * abs(0.5 - 0.725) + abs(1 - 0.55)) / 4
    assert expected_calibration_error(y, proba, n_bins=5) == pytest.approx(expected)
    # one bin: |mean accuracy - mean confidence|
    assert expected_calibration_error(y, proba, n_bins=1) == pytest.approx(abs(0.75 - 0.7375))


def test_expected_calibration_error_perfect_confidence_is_zero() -> None:
    proba = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error([0, 1], proba) == 0.0
    assert expected_calibration_error([1, 0], proba) == 1.0


@pytest.mark.parametrize(
    ("p", "q", "message"),
    [
        ([[0.5, 0.5]], [[0.5, 0.5], [0.5, 0.5]], r"same shape.*\(1, 2\) and \(2, 2\)"),
        ([[0.5, 0.5]], [[0.9, 0.3]], r"sum to 1 \(tolerance 0.001\).*0.2 at row 0.*logits"),
        ([[np.nan, 0.5]], [[0.5, 0.5]], r"non-finite values \(NaN or inf\) in p, first at row 0"),
        ([[1.5, -0.5]], [[0.5, 0.5]], r"negative values in p.*softmax"),
        ([0.5, 0.5], [0.5, 0.5], r"shape \(n_samples, n_classes\).*column_stack"),
        (np.zeros((0, 2)), np.zeros((0, 2)), r"empty p"),
        ([["a", "b"]], [[0.5, 0.5]], r"array of numbers"),
    ],
)
def test_distances_reject_bad_probabilities(p: object, q: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        total_variation(p, q)


def test_kl_divergence_names_its_arguments_in_errors() -> None:
    with pytest.raises(InputError, match=r"kl_divergence needs the rows of p_student to sum"):
        kl_divergence([[0.5, 0.5]], [[0.5, 0.6]])
    with pytest.raises(ParameterError, match=r"'eps' parameter of kl_divergence"):
        kl_divergence([[0.5, 0.5]], [[0.5, 0.5]], eps=0.0)


def test_expected_calibration_error_rejects_bad_input() -> None:
    proba = np.array([[0.5, 0.5], [0.1, 0.9]])
    with pytest.raises(InputError, match=r"integer column indices into proba \(0 to 1\)"):
        expected_calibration_error([0, 2], proba)
    with pytest.raises(InputError, match=r"integer column indices"):
        expected_calibration_error(["a", "b"], proba)
    with pytest.raises(InputError, match=r"y_true_idx has 1, proba has 2"):
        expected_calibration_error([0], proba)
    with pytest.raises(ParameterError, match=r"'n_bins' parameter.*\[1, inf\]\. Got 0"):
        expected_calibration_error([0, 1], proba, n_bins=0)


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_ci_is_reproducible_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(0)
    teacher = rng.integers(0, 3, 400)
    student = np.where(rng.random(400) < 0.8, teacher, (teacher + 1) % 3)
    first = bootstrap_ci(fidelity_score, teacher, student, n_resamples=300, random_state=1)
    second = bootstrap_ci(fidelity_score, teacher, student, n_resamples=300, random_state=1)
    assert first == second
    low, high = first
    assert low < fidelity_score(teacher, student) < high
    assert 0.02 < high - low < 0.15


def test_bootstrap_ci_resamples_rows_jointly() -> None:
    """The same indices go to every array: a metric comparing an array with a copy of
    itself always sees identical rows."""
    x = np.arange(50)
    low, high = bootstrap_ci(lambda a, b: float(np.mean(a == b)), x, x.copy(), n_resamples=50)
    assert (low, high) == (1.0, 1.0)


def test_bootstrap_ci_stratified_keeps_stratum_sizes() -> None:
    strata = np.array([0] * 30 + [1] * 10)
    values = strata.astype(float)
    # the share of stratum 1 in every resample equals its share in the data: 10 / 40
    low, high = bootstrap_ci(np.mean, values, stratify=strata, n_resamples=100, random_state=0)
    assert low == pytest.approx(0.25) and high == pytest.approx(0.25)
    low, high = bootstrap_ci(np.mean, values, n_resamples=100, random_state=0)
    assert low < 0.25 < high


def test_bootstrap_ci_drops_nan_resamples() -> None:
    values = np.array([0.0, 1.0, 2.0, 3.0])
    low, high = bootstrap_ci(
        lambda v: np.nan if v[0] == 0 else float(v.mean()), values, n_resamples=200
    )
    assert np.isfinite(low) and np.isfinite(high)
    assert bootstrap_ci(lambda v: np.nan, values, n_resamples=5) == (
        pytest.approx(np.nan, nan_ok=True),
        pytest.approx(np.nan, nan_ok=True),
    )


def test_bootstrap_ci_coverage_of_a_proportion() -> None:
    """Bernoulli(0.9) agreement vectors of 300 rows: the 95% percentile interval covers
    the true share in 90-99% of 200 seeded repetitions."""
    rng = np.random.default_rng(2024)
    p_true, covered = 0.9, 0
    for _ in range(200):
        agree = (rng.random(300) < p_true).astype(float)
        low, high = bootstrap_ci(np.mean, agree, n_resamples=500, random_state=rng)
        covered += low <= p_true <= high
    assert 0.90 <= covered / 200 <= 0.99


def test_bootstrap_ci_is_fast_for_1000_rows_and_1000_resamples() -> None:
    rng = np.random.default_rng(0)
    teacher, student = rng.integers(0, 2, 1000), rng.integers(0, 2, 1000)
    start = time.process_time()  # CPU time: robust to other work on a shared machine
    bootstrap_ci(fidelity_score, teacher, student, n_resamples=1000, random_state=0)
    assert time.process_time() - start < 0.5


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"confidence": 1.0}, ParameterError, r"'confidence' parameter of bootstrap_ci.*\(0, 1\)"),
        ({"confidence": 0}, ParameterError, r"'confidence' parameter.*Got 0 instead"),
        ({"n_resamples": 0}, ParameterError, r"'n_resamples' parameter.*\[1, inf\]"),
        ({"n_resamples": 2.5}, InputTypeError, r"must be an int.*Got 2.5 of type float"),
        ({"stratify": [0, 1]}, InputError, r"stratify has 2, arrays has 3"),
        ({"random_state": "seed"}, InputTypeError, r"'random_state' parameter must be None"),
    ],
)
def test_bootstrap_ci_rejects_bad_parameters(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        bootstrap_ci(np.mean, [1.0, 2.0, 3.0], **kwargs)


def test_bootstrap_ci_rejects_bad_arrays_and_metrics() -> None:
    with pytest.raises(InputError, match=r"array 0 has 3, array 1 has 2"):
        bootstrap_ci(fidelity_score, [0, 1, 1], [0, 1])
    with pytest.raises(InputError, match=r"empty array \(position 0\)"):
        bootstrap_ci(np.mean, [])
    with pytest.raises(InputError, match=r"at least one array"):
        bootstrap_ci(np.mean)
    with pytest.raises(InputError, match=r"array 0 is a scalar"):
        bootstrap_ci(np.mean, 3.0)
    with pytest.raises(InputTypeError, match=r"needs a callable metric.*Got list"):
        bootstrap_ci([1, 2], [1, 2])  # type: ignore[arg-type]
    with pytest.raises(InputTypeError, match=r"returns one number.*ndarray \(3,\)"):
        bootstrap_ci(lambda v: v, np.arange(3.0), n_resamples=2)
