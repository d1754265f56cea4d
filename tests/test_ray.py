"""interpretable_kd.distributed on a local Ray cluster (2 CPUs, 2 training workers).

One Ray session for the module, and one module-scoped run does the expensive part once:
the teacher scored by a Ray Data actor pool (its output, the scored Parquet rows, is
checked against the teacher), a student trained by Ray Train with 2 workers and a
failure injected at epoch 2 on worker 1 (the run must resume from the epoch-1
checkpoint and finish). Small data (1,600 rows), 3 epochs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from interpretable_kd import DistilledClassifier, MLPTeacher, SoftLogisticRegression
from interpretable_kd.attributions import explain
from interpretable_kd.distributed import (
    compare_ray,
    compare_streaming,
    explain_ray,
    fit_ray,
    fit_streaming,
    ray_explain,
    streamed_report,
)
from interpretable_kd.exceptions import InputError, InputTypeError, ParameterError

ray = pytest.importorskip("ray", reason="the ray extra is not installed")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

FEATURES = [f"f{j}" for j in range(5)]
EPOCHS = 3


@pytest.fixture(scope="module")
def cluster() -> Any:
    """A local Ray cluster with 2 CPUs, shut down after the module. Ray Train's
    controller polls its workers every 0.2 s instead of 2 s (the processes Ray starts
    inherit the variable): the same runs, about 7 s less waiting per ``fit_ray``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.2")
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """1,600 training rows in a Parquet file (one column scaled by 1e3), 600 test rows,
    and a fitted scikit-learn teacher."""
    X, y = make_classification(
        n_samples=2200, n_features=5, n_informative=3, n_redundant=0, random_state=3
    )
    X = X.astype(np.float32)
    X[:, 1] *= 1e3
    teacher = LogisticRegression(max_iter=2000).fit(X, y)
    folder = tmp_path_factory.mktemp("ray")
    path = folder / "train.parquet"
    pq.write_table(
        pa.table({name: X[:1600, j] for j, name in enumerate(FEATURES)}), path, row_group_size=200
    )
    return {"X": X, "teacher": teacher, "path": path, "folder": folder}


@pytest.fixture(scope="module")
def ray_fit(cluster: Any, data: dict[str, Any]) -> dict[str, Any]:
    """fit_ray with 2 workers and a failure injected at epoch 2 on worker 1."""
    storage = data["folder"] / "storage"
    student = fit_ray(
        SoftLogisticRegression(batch_size=32, random_state=0),
        data["path"],
        teacher=data["teacher"],
        num_workers=2,
        epochs=EPOCHS,
        batch_size=16,  # per worker: a global batch of 32, as in the reference
        max_failures=1,
        storage_path=storage,
        random_state=0,
        _inject_failure=(2, 1),
    )
    return {"student": student, "storage": storage}


def _fidelity(model: Any, data: dict[str, Any]) -> float:
    X_test = pd.DataFrame(data["X"][1600:], columns=FEATURES)
    return float(np.mean(model.predict(X_test) == data["teacher"].predict(data["X"][1600:])))


def test_ray_scoring_gives_the_teacher_logits(
    ray_fit: dict[str, Any], data: dict[str, Any]
) -> None:
    # what score_teacher_ray's actor pool wrote for the fit (no second Ray Data job)
    (scored,) = list(Path(ray_fit["storage"]).glob("scored-*"))
    rows = pd.read_parquet(scored)
    X = rows[[f"x{j}" for j in range(5)]].to_numpy(dtype=np.float32)
    logits = rows[["t0", "t1"]].to_numpy(dtype=np.float64)
    assert len(rows) == 1600 and (rows["y"] == -1).all()
    expected = data["teacher"].predict_log_proba(X)
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
    # every row of the file was scored once
    np.testing.assert_array_equal(np.sort(X[:, 0]), np.sort(data["X"][:1600, 0]))


def test_ray_comparison_sums_equal_the_streaming_ones(
    cluster: Any, data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    X = pd.DataFrame(data["X"][:1600], columns=FEATURES)
    student = SoftLogisticRegression(max_epochs=5, random_state=0).fit(
        X, data["teacher"].predict(data["X"][:1600])
    )
    on_ray = compare_ray(data["teacher"], student, data["path"], batch_size=400, random_state=0)
    local = compare_streaming(
        data["teacher"], student, data["path"], chunk_rows=400, random_state=0
    )
    assert on_ray.n_rows == local.n_rows == 1600
    np.testing.assert_array_equal(on_ray.agreement_matrix, local.agreement_matrix)
    assert on_ray.fidelity == local.fidelity
    for name in ("kl_divergence", "js_distance", "total_variation"):
        assert getattr(on_ray, name) == pytest.approx(getattr(local, name), abs=1e-9)
    assert 0 < on_ray.sample_rows <= 1600
    low, high = on_ray.intervals["fidelity"]
    assert low <= on_ray.fidelity + 0.02 and high >= on_ray.fidelity - 0.02
    # the full report of the comparison at scale: the Ray sums over all rows, the rest
    # (attributions, figures) on a 300-row sample
    fanned: list[int] = []

    def counted(*args: Any, **kwargs: Any) -> Any:
        fanned.append(len(args[1]))
        return explain_ray(*args, **kwargs)

    monkeypatch.setattr(ray_explain, "explain_ray", counted)
    report = streamed_report(
        data["teacher"], {"s": student}, data["path"], comparisons={"s": on_ray},
        engine="ray", sample_rows=300, preset="quick", random_state=0,
    )  # fmt: skip
    # every attribution of the sample's audit ran as Ray tasks, and gave what one
    # process gives on the same sample (up to float32 rounding of other batch shapes)
    assert fanned and sum(fanned) >= len(report.students["s"].attributions.values)
    here = streamed_report(
        data["teacher"], {"s": student}, data["path"], comparisons={"s": on_ray},
        engine="stream", sample_rows=300, preset="quick", random_state=0,
    )  # fmt: skip
    np.testing.assert_allclose(
        report.students["s"].attributions.values,
        here.students["s"].attributions.values,
        rtol=1e-5,
        atol=1e-7,
    )
    result = report.students["s"]
    assert result.fidelity == on_ray.fidelity and result.kl_divergence == on_ray.kl_divergence
    np.testing.assert_array_equal(result.agreement_matrix, on_ray.agreement_matrix)
    assert len(result.pred) == 300 and result.attributions is not None
    scope = report.to_dict()["config"]["row_scope"]
    assert (scope["engine"], scope["all_rows"], scope["sample_rows"]) == ("ray", 1600, 300)
    with pytest.raises(InputError, match=r"'comparisons' parameter of streamed_report has no"):
        streamed_report(
            data["teacher"], {"s": student, "t": student}, data["path"],
            comparisons={"s": on_ray},
        )  # fmt: skip


def test_explain_ray_equals_one_process(cluster: Any, data: dict[str, Any]) -> None:
    X = pd.DataFrame(data["X"][1600:1690], columns=FEATURES)
    background = pd.DataFrame(data["X"][:200], columns=FEATURES)
    kwargs = {"method": "permutation", "max_background": 20, "n_permutations": 2}
    teacher = data["teacher"]
    fanned = explain_ray(teacher, X, background, num_chunks=3, random_state=5, **kwargs)
    single = explain(teacher, X, background, random_state=5, **kwargs)
    np.testing.assert_allclose(fanned.values, single.values, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(fanned.target, single.target)
    np.testing.assert_allclose(fanned.base_values, single.base_values, rtol=1e-12)
    np.testing.assert_array_equal(fanned.data, single.data)
    assert fanned.feature_names == FEATURES
    # another seed gives other values: the test can fail
    other = explain(teacher, X, background, random_state=6, **kwargs)
    assert not np.allclose(fanned.values, other.values)
    with pytest.raises(ParameterError, match="explain_ray cannot split method='kernel'"):
        explain_ray(teacher, X, background, method="kernel")


def test_fit_ray_rejects_an_in_memory_table(cluster: Any, data: dict[str, Any]) -> None:
    table = pq.read_table(data["path"])
    with pytest.raises(
        InputTypeError, match=r"'source' parameter of fit_ray must be a Parquet path"
    ):
        fit_ray(SoftLogisticRegression(), table, teacher=data["teacher"])


def test_two_workers_match_the_single_process_student(
    ray_fit: dict[str, Any], data: dict[str, Any]
) -> None:
    reference = fit_streaming(
        SoftLogisticRegression(batch_size=32, random_state=0),
        data["path"],
        teacher=data["teacher"],
        epochs=EPOCHS,
        random_state=0,
    )
    single, distributed = _fidelity(reference, data), _fidelity(ray_fit["student"], data)
    assert single > 0.9
    assert abs(distributed - single) <= 0.005, (single, distributed)


def test_a_worker_failure_resumes_from_the_checkpoint(ray_fit: dict[str, Any]) -> None:
    marker = Path(ray_fit["storage"]) / "injected_failure"
    assert marker.read_text().strip() == "epoch 2 rank 1"  # the failure did happen
    history = ray_fit["student"].history_
    assert [r["epoch"] for r in history] == list(range(1, EPOCHS + 1))
    # epoch 1 came from the first worker group; the restarted group began at epoch 2,
    # from the epoch-1 checkpoint, not from scratch
    assert [r["run_start_epoch"] for r in history] == [1, 2, 2]
    assert ray_fit["student"].ray_restarts_ == 1
    assert all(r["workers"] == 2 and r["rows_per_s_per_worker"] > 0 for r in history)


def test_the_ray_student_is_an_ordinary_local_estimator(
    ray_fit: dict[str, Any], data: dict[str, Any], tmp_path: Path
) -> None:
    student = ray_fit["student"]
    assert type(student) is SoftLogisticRegression
    assert student.x_scale_[1] > 100  # the 1e3 column was standardised
    X_test = pd.DataFrame(data["X"][1600:], columns=FEATURES)
    loaded = SoftLogisticRegression.load(student.save(tmp_path / "s.safetensors"))
    np.testing.assert_array_equal(loaded.predict_proba(X_test), student.predict_proba(X_test))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none here)")
def test_cuda_scoring_and_training(cluster: Any, data: dict[str, Any]) -> None:
    X = data["X"][:1600]
    teacher = MLPTeacher(max_epochs=5, random_state=0).fit(X, data["teacher"].predict(X))
    distiller = DistilledClassifier(teacher, SoftLogisticRegression(device="cuda"), temperature=1.0)
    fitted = fit_ray(distiller, data["path"], num_workers=1, use_gpu=True, epochs=2)
    assert fitted.student_.module_.weight.device.type == "cpu"
    assert fitted.fidelity(pd.DataFrame(data["X"][1600:], columns=FEATURES)) > 0.8
    fitted = fit_streaming(distiller, data["path"], epochs=2)
    assert fitted.fidelity(pd.DataFrame(data["X"][1600:], columns=FEATURES)) > 0.8
