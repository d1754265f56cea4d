"""Out of core on one machine: interpretable_kd.distributed without Ray."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from interpretable_kd import (
    AdditiveClassifier,
    DistilledClassifier,
    ShallowMLPClassifier,
    SoftLogisticRegression,
    as_teacher,
    metrics,
)
from interpretable_kd.distributed import (
    ColumnStats,
    ComparisonSums,
    Reservoir,
    compare_streaming,
    fit_streaming,
    streamed_report,
)
from interpretable_kd.distributed._arrow import open_source
from interpretable_kd.exceptions import InputError, InputTypeError, ParameterError

pa = pytest.importorskip("pyarrow", reason="the ray extra (pyarrow) is not installed")
pq = pytest.importorskip("pyarrow.parquet")

FEATURES = [f"f{j}" for j in range(6)]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """1,200 rows (3 classes; a column scaled by 1e4, a constant column) in a Parquet
    file with a label column, 400 test rows, and a scikit-learn teacher."""
    X, y = make_classification(
        n_samples=1600,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=2,
    )
    X = X.astype(np.float32)
    X[:, 2] *= 1e4
    X[:, 5] = 3.0
    # fitted on a DataFrame: the streaming readers pass it named columns
    teacher = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    teacher.fit(pd.DataFrame(X, columns=FEATURES), y)
    path = tmp_path_factory.mktemp("stream") / "train.parquet"
    columns = {name: X[:1200, j] for j, name in enumerate(FEATURES)}
    pq.write_table(pa.table({**columns, "label": y[:1200]}), path, row_group_size=150)
    return {"X": X, "y": y, "teacher": teacher, "path": path}


def _frame(X: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(X, columns=FEATURES)


def test_fit_on_a_parquet_file_gives_a_working_estimator(
    data: dict[str, Any], tmp_path: Path
) -> None:
    template = SoftLogisticRegression(batch_size=32, random_state=0)
    student = fit_streaming(
        template,
        data["path"],
        teacher=data["teacher"],
        label="label",
        epochs=15,
        chunk_rows=256,
        buffer_rows=300,
    )
    assert not hasattr(template, "module_")  # the user's estimator is untouched
    assert type(student) is SoftLogisticRegression
    X_test = _frame(data["X"][1200:])
    fidelity = np.mean(student.predict(X_test) == data["teacher"].predict(X_test))
    assert fidelity > 0.9
    # standardisation from the streaming pass equals the in-memory statistics
    mean = data["X"][:1200].astype(np.float64).mean(axis=0)
    std = data["X"][:1200].astype(np.float64).std(axis=0)
    np.testing.assert_allclose(student.x_mean_, mean, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(student.x_scale_[:5], std[:5], rtol=1e-9)
    assert student.x_scale_[5] == 1.0  # the constant column
    assert len(student.history_) == student.n_iter_ == 15
    loaded = SoftLogisticRegression.load(student.save(tmp_path / "s.safetensors"))
    np.testing.assert_array_equal(loaded.predict(X_test), student.predict(X_test))


def test_same_seed_same_numbers_and_a_distiller_comes_back_fitted(data: dict[str, Any]) -> None:
    distiller = DistilledClassifier(
        data["teacher"], ShallowMLPClassifier(batch_size=32), temperature=0.5, random_state=3
    )
    features = FEATURES  # the label column is left out by naming the features
    first = fit_streaming(distiller, data["path"], features=features, epochs=8, chunk_rows=200)
    second = fit_streaming(distiller, data["path"], features=features, epochs=8, chunk_rows=200)
    assert not hasattr(distiller, "student_")
    assert isinstance(first, DistilledClassifier) and first.temperature_ == 0.5
    X_test = _frame(data["X"][1200:])
    np.testing.assert_array_equal(first.predict_proba(X_test), second.predict_proba(X_test))
    assert first.fidelity(X_test) > 0.8
    assert first.student_.history_[0]["train_loss"] > first.student_.history_[-1]["train_loss"]


def test_column_stats_merge_exactly_in_any_split() -> None:
    X = np.random.default_rng(0).normal(3.0, 2.0, size=(1000, 4))
    whole = ColumnStats.of(X)
    parts = [ColumnStats.of(X[a:b]) for a, b in [(0, 1), (1, 333), (333, 334), (334, 1000)]]
    merged = ColumnStats()
    for part in reversed(parts):
        merged = part.merge(merged)
    assert merged.n == 1000
    np.testing.assert_allclose(merged.mean, whole.mean, rtol=1e-12)
    np.testing.assert_allclose(merged.m2, whole.m2, rtol=1e-12)


def test_streaming_metrics_equal_the_in_memory_ones(data: dict[str, Any]) -> None:
    rng = np.random.default_rng(1)
    p_t = rng.dirichlet(np.ones(3), size=997)
    p_s = rng.dirichlet(np.ones(3) * 0.5, size=997)
    sums = ComparisonSums.empty(3)
    for chunk in np.array_split(np.arange(997), [5, 300, 301, 640]):
        sums = ComparisonSums.of(p_t[chunk], p_s[chunk]).merge(sums)
    got = sums.values(np.array(["a", "b", "c"]))
    t_pred, s_pred = p_t.argmax(axis=1), p_s.argmax(axis=1)
    assert got["fidelity"] == pytest.approx(metrics.fidelity_score(t_pred, s_pred), abs=1e-9)
    expected_per_class = metrics.per_class_fidelity(t_pred, s_pred, labels=[0, 1, 2])
    for label, index in zip("abc", range(3), strict=True):
        assert got["per_class_fidelity"][label] == pytest.approx(
            expected_per_class[index], abs=1e-9
        )
    np.testing.assert_array_equal(
        got["agreement_matrix"], metrics.agreement_matrix(t_pred, s_pred, labels=[0, 1, 2])
    )
    assert got["kl_divergence"] == pytest.approx(metrics.kl_divergence(p_t, p_s), abs=1e-9)
    assert got["js_distance"] == pytest.approx(metrics.js_distance(p_t, p_s), abs=1e-9)
    assert got["total_variation"] == pytest.approx(metrics.total_variation(p_t, p_s), abs=1e-9)


def test_compare_streaming_over_a_parquet_file(data: dict[str, Any]) -> None:
    X = data["X"][:1200]
    student = SoftLogisticRegression(max_epochs=30, random_state=0).fit(
        _frame(X), data["teacher"].predict(_frame(X))
    )
    result = compare_streaming(
        data["teacher"],
        student,
        data["path"],
        features=FEATURES,
        chunk_rows=250,
        sample_rows=500,
        n_bootstrap=200,
        random_state=0,
    )
    # in memory, on the same rows and the same row chunks (float32 inference is
    # batch-shape dependent, the reduction is not)
    chunks = [_frame(X[i : i + 250]) for i in range(0, 1200, 250)]
    p_t = np.vstack([as_teacher(data["teacher"]).predict_proba(c) for c in chunks])
    p_s = np.vstack([student.predict_proba(c) for c in chunks])
    assert result.n_rows == 1200 and result.sample_rows == 500
    assert result.fidelity == pytest.approx(
        metrics.fidelity_score(p_t.argmax(axis=1), p_s.argmax(axis=1)), abs=1e-9
    )
    assert result.kl_divergence == pytest.approx(metrics.kl_divergence(p_t, p_s), abs=1e-9)
    assert result.js_distance == pytest.approx(metrics.js_distance(p_t, p_s), abs=1e-9)
    low, high = result.intervals["fidelity"]
    assert low < high and low - 0.05 < result.fidelity < high + 0.05
    assert result.to_dict()["agreement_matrix"] == result.agreement_matrix.tolist()


def test_reservoir_is_the_smallest_keys_and_merges() -> None:
    rng = np.random.default_rng(0)
    keys, rows = rng.random(500), np.arange(500)
    one = Reservoir(50)
    for chunk in np.array_split(np.arange(500), 7):
        one.update(keys[chunk], rows[chunk])
    halves = (
        Reservoir(50)
        .update(keys[:200], rows[:200])
        .merge(Reservoir(50).update(keys[200:], rows[200:]))
    )
    expected = set(np.argsort(keys)[:50].tolist())
    assert set(one.arrays[0].tolist()) == expected == set(halves.arrays[0].tolist())


def test_bad_inputs_name_the_parameter(data: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(InputError, match="source path that does not exist"):
        fit_streaming(SoftLogisticRegression(), tmp_path / "none.parquet", teacher=data["teacher"])
    with pytest.raises(InputTypeError, match="'source' parameter of fit_streaming must be"):
        fit_streaming(SoftLogisticRegression(), data["X"], teacher=data["teacher"])
    with pytest.raises(InputError, match="'label' parameter of fit_streaming is 'nope'"):
        fit_streaming(SoftLogisticRegression(), data["path"], teacher=data["teacher"], label="nope")
    with pytest.raises(InputError, match=r"names columns the source does not have: \['zz'\]"):
        fit_streaming(
            SoftLogisticRegression(), data["path"], teacher=data["teacher"], features=["zz"]
        )
    with pytest.raises(InputTypeError, match="fit_streaming needs a teacher"):
        fit_streaming(SoftLogisticRegression(), data["path"])
    with pytest.raises(InputTypeError, match="needs a torch student"):
        fit_streaming(LogisticRegression(), data["path"], teacher=data["teacher"])
    # Regression: the additive student streamed with unplaced knots (fidelity 0.52).
    with pytest.raises(InputTypeError, match="cannot train a AdditiveClassifier out of core"):
        fit_streaming(AdditiveClassifier(), data["path"], teacher=data["teacher"])
    with pytest.raises(
        ParameterError, match="'temperature' parameter of fit_streaming must be a number"
    ):
        fit_streaming(
            SoftLogisticRegression(), data["path"], teacher=data["teacher"], temperature="auto"
        )
    with pytest.raises(ParameterError, match="buffer_rows"):
        fit_streaming(
            SoftLogisticRegression(), data["path"], teacher=data["teacher"], buffer_rows=0
        )
    text = tmp_path / "text.parquet"
    pq.write_table(pa.table({"a": [1.0, 2.0], "b": ["x", "y"]}), text)
    with pytest.raises(InputError, match="column 'b' has type string"):
        compare_streaming(data["teacher"], SoftLogisticRegression(), text)


def test_reading_memory_is_bounded_by_the_batch_not_the_rows(tmp_path: Path) -> None:
    """Regression: Arrow's Parquet pre-buffering kept every column chunk read until the
    file closed (the scoring pass grew by ~80 MB per million rows). Arrow memory during a
    scan of 200,000 rows in 5,000-row batches stays below half of the data's size (with
    pre-buffering it holds more than the whole file; a bound of a quarter, 1.2 MB, was
    once crossed by 0.07 MB in the full suite, where Arrow's pool is the process's and
    other tests have used it)."""
    X = np.random.default_rng(0).standard_normal((200_000, 6), dtype=np.float32)
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({f"f{j}": X[:, j] for j in range(6)}), path, row_group_size=5000)
    size = X.nbytes
    del X
    spec = open_source(path, None, None, "test")
    baseline, held, rows = pa.total_allocated_bytes(), 0, 0
    for batch, _ in spec.batches(5000):
        held = max(held, pa.total_allocated_bytes() - baseline)
        rows += len(batch)
    assert rows == 200_000
    assert held < size / 2, (held, size)


def test_streamed_report_labels_all_rows_and_sample(data: dict[str, Any]) -> None:
    student = fit_streaming(
        SoftLogisticRegression(batch_size=64, random_state=0),
        data["path"], teacher=data["teacher"], features=FEATURES, epochs=5,
    )  # fmt: skip
    report = streamed_report(
        data["teacher"], {"logistic": student}, data["path"], features=FEATURES,
        label="label", sample_rows=250, preset="quick", random_state=0,
    )  # fmt: skip
    exact = compare_streaming(
        data["teacher"], student, data["path"], features=FEATURES, random_state=0,
        n_bootstrap=100,
    )  # fmt: skip
    result = report.students["logistic"]
    assert result.fidelity == exact.fidelity and result.js_distance == exact.js_distance
    np.testing.assert_array_equal(result.agreement_matrix, exact.agreement_matrix)
    assert result.accuracy is not None and len(result.pred) == 250  # the sample's rows
    assert report.dataset["n_rows"] == 1200 and report.dataset["sample_rows"] == 250
    scope = report.to_dict()["config"]["row_scope"]
    assert "kl_divergence" in scope["over_all_rows"] and scope["reservoir_rows"] == 1200
    assert "Streamed over all 1,200 rows" in report.extra["row_scope"]
    with pytest.raises(ParameterError, match="'engine' parameter of streamed_report"):
        streamed_report(data["teacher"], {"s": student}, data["path"], engine="spark")


def test_the_package_works_without_pyarrow_and_ray() -> None:
    """With pyarrow and Ray made unimportable, ``import interpretable_kd`` (and even
    ``interpretable_kd.distributed``) works, and a streaming call says what to install.
    (With pyarrow installed, pandas itself imports it; the library never needs it.)"""
    code = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pyarrow", "ray"):
            raise ImportError("blocked " + name)
sys.meta_path.insert(0, Block())
import interpretable_kd, interpretable_kd.distributed as d
assert "ray" not in sys.modules and "pyarrow" not in sys.modules
try:
    d.fit_streaming(interpretable_kd.SoftLogisticRegression(), "x.parquet", teacher=None)
except ImportError as exc:
    print(exc)
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "needs pyarrow, which is not installed" in done.stdout
    assert 'pip install "interpretable-kd[ray]"' in done.stdout
