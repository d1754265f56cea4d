"""Where not to trust the student (issue 13): ranked disagreements with ids, fidelity by
group with intervals, the failure region in words, data warnings and the per-feature
figures."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from interpretable_kd.audit._where import failure_region, wilson_interval
from interpretable_kd.datasets.checks import data_warnings
from interpretable_kd.exceptions import InputError, InputTypeError
from interpretable_kd.report import views
from interpretable_kd.report.exports import disagreements_csv
from interpretable_kd.report.numbers import DistillationReport

FAST = {"explain_rows": 40, "n_bootstrap": 50, "max_background": 15, "random_state": 0}


def _data(n: int = 300) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n).astype(float),
            "income": rng.normal(50_000, 15_000, n),
            "x3": rng.normal(size=n),
        }
    )
    y = ((X.age - 50) / 15 + (X.income - 50_000) / 15_000 + X.x3 > 0).astype(int).to_numpy()
    group = np.where(rng.random(n) < 0.3, "B", "A")
    ids = 10_000 + rng.permutation(n) * 7  # ids that are not positions
    return X, y, group, ids


class SegmentFailingStudent:
    """The teacher's probabilities, swapped on the rows of segment B: a student that fails
    on exactly one segment, which it recognises by the row's values (the segment itself
    is not a feature)."""

    classes_ = np.array([0, 1])

    def __init__(self, teacher: LogisticRegression, X: pd.DataFrame, group: np.ndarray):
        self.teacher = teacher
        self.lookup = {tuple(np.round(r, 6)): g for r, g in zip(X.to_numpy(), group, strict=True)}

    def predict_proba(self, X: object) -> np.ndarray:
        rows = np.asarray(X, dtype=float)
        proba = self.teacher.predict_proba(rows).copy()
        flip = np.array([self.lookup.get(tuple(np.round(r, 6))) == "B" for r in rows])
        proba[flip] = proba[flip][:, ::-1]
        return proba

    def predict(self, X: object) -> np.ndarray:
        return self.predict_proba(X).argmax(axis=1)


@pytest.fixture(scope="module")
def fitted():
    X, y, group, ids = _data()
    teacher = LogisticRegression(max_iter=1000).fit(X.to_numpy(), y)
    rough = LogisticRegression(C=1e-4, max_iter=1000).fit(X.to_numpy()[:, :1], y)

    class OneFeature:
        classes_ = np.array([0, 1])

        def predict_proba(self, X: object) -> np.ndarray:
            return rough.predict_proba(np.asarray(X, dtype=float)[:, :1])

    students = {"segment": SegmentFailingStudent(teacher, X, group), "rough": OneFeature()}
    return X, y, group, ids, teacher, students


@pytest.fixture(scope="module")
def report(fitted) -> DistillationReport:
    X, y, group, ids, teacher, students = fitted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return DistillationReport.from_models(
            teacher, students, X, y, row_ids=ids, segments={"group": group}, **FAST
        )


def test_first_disagreement_is_the_largest(report, fitted) -> None:
    X, _, _, _, teacher, students = fitted
    p_teacher = teacher.predict_proba(X.to_numpy())
    for name, student in students.items():
        table = report.disagreements[report.disagreements["student"] == name]
        assert len(table) > 0
        p_student = student.predict_proba(X)
        c = p_teacher.argmax(axis=1)
        differ = np.flatnonzero(p_student.argmax(axis=1) != c)
        gaps = np.abs(p_teacher[differ, c[differ]] - p_student[differ, c[differ]])
        assert table["gap"].iloc[0] == pytest.approx(gaps.max())
        assert np.all(np.diff(table["gap"].to_numpy()) <= 1e-12)
        assert list(table["rank"]) == list(range(1, len(table) + 1))


def test_disagreements_carry_ids_values_and_both_probabilities(report, fitted) -> None:
    X, _, _, ids, _, _ = fitted
    table = report.disagreements
    for _, row in table.head(5).iterrows():
        assert row["row_id"] == ids[row["row"]]
        assert row["age"] == X["age"].iloc[row["row"]]  # original units
        assert row["gap"] == pytest.approx(
            abs(row["teacher_probability"] - row["student_probability_of_teacher_class"])
        )
    explained = table.groupby("student").head(3)
    assert (explained["teacher_top_features"] != "").all()
    assert (explained["student_top_features"] != "").all()


def test_csv_has_one_line_per_disagreeing_row_with_matching_ids(report, fitted) -> None:
    X, _, _, ids, teacher, students = fitted
    frame = pd.read_csv(io.StringIO(disagreements_csv(report)))
    for name, student in students.items():
        pred = student.predict_proba(X).argmax(axis=1)
        differ = np.flatnonzero(pred != teacher.predict(X.to_numpy()))
        mine = frame[frame["student"] == name]
        assert len(mine) == differ.size
        assert sorted(mine["row_id"]) == sorted(ids[differ])


def test_student_failing_on_one_segment_is_found_in_words(report) -> None:
    region = report.where["failure_regions"]["segment"]
    assert region is not None
    assert region["conditions"] == ["group = B"]
    assert region["rate"] == pytest.approx(1.0)
    assert "disagrees on 100% of rows with group = B" in region["text"]
    lowest = report.where["lowest"]["segment"]["segment"]
    assert (lowest["column"], lowest["group"], lowest["fidelity"]) == ("group", "= B", 0.0)
    summary = report.to_dict()["where"]
    assert summary["failure_regions"]["segment"]["conditions"] == ["group = B"]


def test_fidelity_by_group_has_intervals_around_each_estimate(report) -> None:
    groups = report.where["groups"]
    assert set(groups["view"]) == {"teacher confidence", "feature", "segment"}
    bands = groups[(groups["view"] == "teacher confidence") & (groups["student"] == "rough")]
    assert len(bands) == 10  # deciles of |p - 0.5|
    assert bands["n_rows"].sum() == report.dataset["n_rows"]
    assert (groups["fidelity_low"] <= groups["fidelity"] + 1e-12).all()
    assert (groups["fidelity"] <= groups["fidelity_high"] + 1e-12).all()
    bins = groups[(groups["column"] == "age") & (groups["student"] == "rough")]
    assert 2 <= len(bins) <= 5


def test_wilson_interval_matches_the_formula() -> None:
    low, high = wilson_interval(0, 20)
    assert low == 0.0 and high == pytest.approx(0.1611, abs=1e-4)
    low, high = wilson_interval(15, 20)
    assert low == pytest.approx(0.5313, abs=1e-4) and high == pytest.approx(0.8881, abs=1e-4)


def test_failure_region_writes_integer_thresholds_in_the_data_units() -> None:
    rng = np.random.default_rng(1)
    pay = rng.integers(-1, 6, 400).astype(float)
    limit = rng.integers(1, 50, 400) * 10_000.0
    disagree = (pay >= 2) & (limit < 150_000)
    matrix = np.column_stack([pay, limit])
    columns = [("feature", "PAY_0", None), ("feature", "LIMIT_BAL", None)]
    region = failure_region(disagree, matrix, columns)
    assert region is not None
    assert set(region["conditions"]) == {"PAY_0 ≥ 2", "LIMIT_BAL ≤ 140,000"}
    assert failure_region(np.zeros(400, dtype=bool), matrix, columns) is None


def test_same_seed_same_where_numbers(fitted, report) -> None:
    X, y, group, ids, teacher, students = fitted
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = DistillationReport.from_models(
            teacher, students, X, y, row_ids=ids, segments={"group": group}, **FAST
        )
    pd.testing.assert_frame_equal(again.where["groups"], report.where["groups"])
    pd.testing.assert_frame_equal(again.disagreements, report.disagreements)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"row_ids": [1, 2, 3]}, InputError, "row_ids with one id per row"),
        ({"row_ids": np.zeros(300)}, InputError, "unique row_ids"),
        ({"segments": {"group": ["A"] * 5}}, InputError, "each segment column"),
        ({"segments": ["gruop"]}, InputError, "Did you mean 'group'"),
        ({"segments": 3}, InputTypeError, "segments as a DataFrame"),
        ({"X_display": pd.DataFrame({"a": [1, 2]})}, InputError, "X_display with the same rows"),
    ],
)
def test_bad_where_inputs_are_refused(fitted, kwargs, error, match) -> None:
    X, y, group, _, teacher, students = fitted
    display = X.assign(group=group)
    if kwargs.get("segments") == ["gruop"]:
        kwargs = {**kwargs, "X_display": display}
    with pytest.raises(error, match=match):
        DistillationReport.from_models(teacher, students, X, y, **{**FAST, **kwargs})


def test_data_warnings_find_ids_constants_and_protected_columns() -> None:
    n = 100
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "ID": np.arange(1, n + 1),
            "income": rng.normal(size=n),  # unique, but a measurement
            "count": rng.integers(0, 5, n),
            "flag": [0] * 99 + [1],
            "race": rng.choice(["a", "b"], n),
            "y": rng.integers(0, 2, n),
        }
    )
    messages = data_warnings(frame, protected=["race"], target="y")
    assert len(messages) == 3
    assert "'ID' looks like a row id" in messages[0]
    assert "'flag' is near-constant: 99.0%" in messages[1]
    assert "'race' is marked protected and is used as a feature" in messages[2]
    shuffled = frame.sample(frac=1.0, random_state=0)
    assert any("'ID' looks like a row id" in m for m in data_warnings(shuffled))


def test_data_warnings_refuse_bad_input() -> None:
    with pytest.raises(InputTypeError, match="needs frame as a pandas DataFrame"):
        data_warnings(np.zeros((3, 2)))
    with pytest.raises(InputError, match="Did you mean 'race'"):
        data_warnings(pd.DataFrame({"race": [1, 2]}), protected=["rase"])
    with pytest.raises(InputError, match="'near_constant_share' parameter"):
        data_warnings(pd.DataFrame({"a": [1, 2]}), near_constant_share=0.2)


def _inside(fig) -> bool:
    """Whether everything drawn (labels, titles, legends) lies inside the figure: no
    clipped label."""
    fig.canvas.draw()
    drawn = fig.get_tightbbox(fig.canvas.get_renderer())
    size = fig.get_size_inches()
    return (
        drawn.x0 >= -0.01
        and drawn.y0 >= -0.01
        and drawn.x1 <= size[0] + 0.01
        and (drawn.y1 <= size[1] + 0.01)
    )


def test_figures_are_drawn_with_no_label_outside_the_figure(report) -> None:
    made = {key: make() for key, make, *_ in views.figure_specs(report)}
    assert {"where_groups", "where_dependence", "where_summary", "where_waterfall_0"} <= set(made)
    for key, fig in made.items():
        assert fig is not None, key
        assert _inside(fig), key


def test_wide_and_image_data_are_capped_or_drawn_as_heatmaps() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 16))
    y = (X[:, :3].sum(axis=1) > 0).astype(int)
    teacher = LogisticRegression(max_iter=500).fit(X, y)
    student = LogisticRegression(C=0.01, max_iter=500).fit(X[:, :8] @ np.eye(8, 16), y)
    fast = {**FAST, "explain_rows": 15, "explain_method": "permutation", "top_k": 16}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wide = DistillationReport.from_models(teacher, {"s": student}, X, y, **fast)
        image = DistillationReport.from_models(
            teacher, {"s": student}, X, y, images_shape=(4, 4), **fast
        )
    summary = views.attribution_summary(wide)
    assert summary is not None
    assert len(summary.axes[0].get_yticks()) == views.MAX_FEATURES  # 16 features, 10 rows
    keys = [key for key, *_ in views.figure_specs(image)]
    assert "where_heatmaps" in keys and "where_summary" not in keys
    heatmaps = views.attribution_heatmaps(image)
    assert heatmaps is not None
    assert heatmaps.axes[0].images[0].get_array().shape == (4, 4)
