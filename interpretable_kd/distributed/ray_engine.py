"""On a Ray cluster: teacher scoring with Ray Data, student training with Ray Train.

* :func:`score_teacher_ray` -- ``ray.data.read_parquet`` then ``map_batches`` with an
  actor pool of ``num_workers`` actors (:class:`_TeacherScorer`): the teacher is
  deserialised once per actor (moved to the actor's GPU with ``use_gpu``), then scores
  one batch after another. Output columns ``x0..``, ``t0..`` (teacher logits), ``y``.
* :func:`fit_ray` -- scores the teacher once (written to Parquet under the run's
  storage path), computes the column statistics as mergeable partial sums, then trains
  the student with Ray Train's ``TorchTrainer``: ``num_workers`` workers, each reading
  its own shard (``get_dataset_shard``, an equal streaming split), data-parallel SGD with
  the gradients averaged by an all-reduce after every backward pass (the averaging DDP
  does; done by hand so that the student's ``_penalty`` and ``_after_step`` see the plain
  module), a checkpoint every epoch (module, optimiser, history) and a restart from the
  latest checkpoint after a worker failure (``FailureConfig(max_failures=...)``); the
  workers' loop is ``_ray_train._train_loop``. The result is an ordinary local
  estimator, as from :func:`~interpretable_kd.distributed.fit_streaming`.
* :func:`compare_ray` (module ``ray_compare``) -- the mergeable
  :class:`~interpretable_kd.distributed.reductions.ComparisonSums`
  and :class:`~interpretable_kd.distributed.reductions.Reservoir` per block, merged on
  the driver: the same numbers as :func:`~interpretable_kd.distributed.compare_streaming`.

A global batch is ``num_workers * batch_size`` rows. Ray Data's streaming split assigns
blocks to workers dynamically, so a Ray fit is not bit-for-bit reproducible across runs
(a single-machine :func:`fit_streaming` is).
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .._defaults import STREAM_BUFFER_ROWS, STREAM_CHUNK_ROWS
from .._torch_utils import isolated_torch_rng
from .._validation import check_number
from ..exceptions import InputTypeError
from ..teachers import Teacher, as_teacher
from ._arrow import ColumnStats, open_source, require, scan_options
from ._plan import (
    StreamPlan,
    finalise_student,
    log,
    make_plan,
    teacher_frame,
)
from ._ray_train import _train_loop

__all__ = ["fit_ray", "score_teacher_ray"]


def _connect(address: str | None, num_cpus: int | None, verbose: Any) -> Any:
    """Ray, initialised (an existing connection is reused); with ``verbose`` (True or a
    callable) the workers' lines reach the driver and Ray Data shows its bars."""
    verbose = bool(verbose)
    ray = require("ray")
    require("ray.data")
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": verbose}
        if address is None and num_cpus is not None:
            kwargs["num_cpus"] = num_cpus
        ray.init(address=address, **kwargs)
    ray.data.DataContext.get_current().enable_progress_bars = verbose
    return ray


def _fit_blocks_to_store(ray: Any, num_workers: int) -> int:
    """Cap Ray Data's block size so the object store holds several blocks per consumer.

    Ray Train splits the scored rows evenly between the workers, and the split holds a
    block back to balance them; with blocks of Ray's default 128 MiB against a 512 MB
    store, two workers each waited for the other's block and the 20,000,000-row run hung
    (``reports/benchmarks/scale_out.md``). The largest block becomes
    ``min(current, max(8 MiB, store / (8 (num_workers + 1))))``: a block size the user
    set lower is kept, and a store of 3 GB or more with two workers keeps Ray's default.

    Returns
    -------
    int
        The block size in force, bytes.
    """
    context = ray.data.DataContext.get_current()
    store = float(ray.cluster_resources().get("object_store_memory", 0.0))
    current = int(context.target_max_block_size or 128 * 2**20)
    if store > 0:
        wanted = int(store / (8 * (num_workers + 1)))
        context.target_max_block_size = min(current, max(8 * 2**20, wanted))
    return int(context.target_max_block_size)


def _cpus_per_worker(ray: Any, num_workers: int) -> float:
    """CPUs each scoring actor or training worker asks for: 1, or less so that one CPU
    of the cluster stays free for Ray Data's read tasks (without it, ``num_workers``
    actors on a ``num_workers``-CPU cluster would wait for a read that never runs).

    ``min(1, (cluster CPUs - 1) / num_workers)``, at least 0.1.
    """
    total = float(ray.cluster_resources().get("CPU", 1.0))
    return max(0.1, min(1.0, (total - 1.0) / num_workers))


def _paths(source: Any, owner: str) -> list[str]:
    """The Parquet files of a source, for ``ray.data.read_parquet``."""
    ds = require("pyarrow.dataset")
    if isinstance(source, str | os.PathLike):
        return [os.fspath(source)]
    if isinstance(source, list | tuple) and all(isinstance(s, str | os.PathLike) for s in source):
        return [os.fspath(s) for s in source]
    if isinstance(source, ds.FileSystemDataset):
        return list(source.files)
    raise InputTypeError(
        f"The 'source' parameter of {owner} must be a Parquet path, a list of paths or a "
        f"file-backed pyarrow.dataset.Dataset (the workers read the files). Got "
        f"{type(source).__name__} instead."
    )


class _TeacherScorer:
    """One actor of the scoring pool: holds the teacher, scores batches.

    Parameters
    ----------
    teacher : Teacher
        The wrapped teacher (a copy, deserialised once per actor).
    features : list of str
        Feature columns.
    label : str or None
        Label column.
    use_gpu : bool
        Move a torch teacher to this actor's GPU.
    """

    def __init__(self, teacher: Teacher, features: list[str], label: str | None, use_gpu: bool):
        self.teacher = teacher
        self.features = features
        self.label = label
        if use_gpu:
            _to_device(teacher, torch.device("cuda"))

    def __call__(self, batch: Any) -> dict[str, np.ndarray]:
        """Score one batch.

        Parameters
        ----------
        batch : pyarrow.Table
            Rows with the feature (and label) columns.

        Returns
        -------
        dict
            ``x{j}`` float32 features, ``t{c}`` float32 logits, ``y`` int64 class index
            (-1 without a label).
        """
        from .._validation import check_labels_known
        from ._arrow import SourceSpec

        spec = SourceSpec(None, self.features, self.label, batch.num_rows)
        X = spec.features_of(batch)
        logits = self.teacher.logits(teacher_frame(self.teacher, X, self.features))
        if self.label:
            raw = batch.column(self.label).to_numpy(zero_copy_only=False)
            y = check_labels_known(raw, self.teacher.classes_, "score_teacher_ray")
        else:
            y = np.full(X.shape[0], -1, dtype=np.int64)
        out = {f"x{j}": X[:, j] for j in range(X.shape[1])}
        out.update({f"t{c}": logits[:, c].astype(np.float32) for c in range(logits.shape[1])})
        out["y"] = y
        return out


def _to_device(teacher: Teacher, device: torch.device) -> None:
    """Move a torch teacher (a wrapped module, or a TorchClassifier's ``module_``) to
    ``device``; other teachers are left as they are."""
    for inner in (getattr(teacher, "module", None), getattr(teacher, "estimator", None)):
        network = inner if isinstance(inner, torch.nn.Module) else getattr(inner, "module_", None)
        if isinstance(network, torch.nn.Module):
            network.to(device)


def score_teacher_ray(
    teacher: Any,
    source: Any,
    *,
    features: list[str] | None = None,
    label: str | None = None,
    num_workers: int = 2,
    use_gpu: bool = False,
    batch_size: int = STREAM_CHUNK_ROWS,
    address: str | None = None,
    verbose: bool | Callable[[str], None] = False,
) -> Any:
    """The teacher's logits for every row of a Parquet source, as a lazy Ray Dataset.

    Parameters
    ----------
    teacher : object
        Any model :func:`~interpretable_kd.as_teacher` accepts (it must be picklable);
        the user's object is never modified (each actor gets a copy).
    source : path, list of paths or file-backed pyarrow.dataset.Dataset
        The rows.
    features : list of str, optional
        Feature columns; default all but ``label``.
    label : str, optional
        Label column.
    num_workers : int
        Actors in the scoring pool.
    use_gpu : bool
        One GPU per actor; a torch teacher runs on it.
    batch_size : int
        Rows per ``map_batches`` call.
    address : str, optional
        Ray cluster address (``"auto"`` for an existing cluster); default: connect to a
        running one, else start a local one.
    verbose : bool or callable
        Ray Data progress bars.

    Returns
    -------
    ray.data.Dataset
        Columns ``x0..x{d-1}`` (float32), ``t0..t{k-1}`` (float32 logits), ``y`` (int64).
    """
    owner = "score_teacher_ray"
    ray = _connect(address, None, verbose)
    num_workers = check_number(num_workers, "num_workers", owner, integer=True, low=1)
    batch_size = check_number(batch_size, "batch_size", owner, integer=True, low=1)
    spec = open_source(source, features, label, owner)
    wrapped = _teacher_with_classes(teacher, spec)
    columns = [*spec.features, *([label] if label else [])]
    rows = ray.data.read_parquet(
        _paths(source, owner), fragment_scan_options=scan_options()
    ).select_columns(columns)
    return rows.map_batches(
        _TeacherScorer,
        fn_constructor_args=(wrapped, spec.features, label, use_gpu),
        batch_format="pyarrow",
        batch_size=batch_size,
        concurrency=num_workers,
        num_cpus=_cpus_per_worker(ray, num_workers),
        num_gpus=1 if use_gpu else 0,
    )


def _teacher_with_classes(teacher: Any, spec: Any) -> Teacher:
    """The wrapped teacher, called once on a few rows on the driver so that a teacher
    that learns its classes on first use knows them before it is shipped."""
    wrapped = as_teacher(teacher)
    head = spec.head(min(64, max(spec.n_rows, 1)), columns=spec.features)
    wrapped.logits(teacher_frame(wrapped, spec.features_of(head), spec.features))
    return wrapped


def fit_ray(
    estimator: Any,
    source: Any,
    *,
    teacher: Any = None,
    features: list[str] | None = None,
    label: str | None = None,
    num_workers: int = 2,
    use_gpu: bool = False,
    temperature: float | None = None,
    hard_label_weight: float | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    buffer_rows: int = STREAM_BUFFER_ROWS,
    max_failures: int = 2,
    storage_path: str | os.PathLike[str] | None = None,
    address: str | None = None,
    random_state: Any = None,
    verbose: bool | Callable[[str], None] = False,
    _inject_failure: tuple[int, int] | None = None,
) -> Any:
    """Distil a teacher into a student on a Ray cluster, from a Parquet source.

    The objective, the standardisation and the returned estimator are those of
    :func:`~interpretable_kd.distributed.fit_streaming`; the teacher is scored by a Ray
    Data actor pool and the student trained by Ray Train (see the module docstring).

    Parameters
    ----------
    estimator : TorchClassifier or DistilledClassifier
        An unfitted student, or a distiller wrapping one (cloned; never modified).
    source : path, list of paths or file-backed pyarrow.dataset.Dataset
        The transfer set; every worker must be able to read the paths.
    teacher : object, optional
        Required with a bare student; must be picklable.
    features, label : optional
        Feature and label columns, as in ``fit_streaming``.
    num_workers : int
        Training workers (and scoring actors).
    use_gpu : bool
        One GPU per worker and per scoring actor.
    temperature, hard_label_weight, epochs : optional
        As in ``fit_streaming``.
    batch_size : int, optional
        Rows per optimiser step *per worker*; default: the ``"auto"`` rule's batch divided
        by ``num_workers`` (so the global batch matches a single-process fit).
    buffer_rows : int
        Local shuffle buffer of each worker.
    max_failures : int
        Worker-group restarts allowed (``FailureConfig``); each resumes from the latest
        epoch checkpoint.
    storage_path : path, optional
        Where checkpoints and the scored rows go (a shared file system on a real cluster);
        default: a new temporary directory.
    address : str, optional
        Ray cluster address; default: a running cluster, else a local one.
    random_state : None, int or Generator
        Seeds initialisation and the shuffles.
    verbose : bool or callable
        Progress: rows scored (Ray Data's bars, then rows/s), each epoch's loss and
        rows/s (printed by worker 0 as it ends); a callable receives the driver's lines
        instead, the epochs' once training ends.
    _inject_failure : (epoch, rank) or None
        For tests only: worker ``rank`` raises once at the end of ``epoch``.

    Returns
    -------
    TorchClassifier or DistilledClassifier
        A fitted clone of ``estimator`` (local: ``predict``, ``save``, ``load`` work
        without Ray). ``history_`` records, per epoch, the loss, rows/s overall and per
        worker, the largest peak RSS of a worker process (``worker_peak_rss_mb``, MiB), the
        number of workers and ``run_start_epoch`` (the epoch the worker group
        that trained it started at: > 1 after a restart from a checkpoint).
    """
    owner = "fit_ray"
    ray = _connect(address, None, verbose)
    train = require("ray.train")
    from ray.train.torch import TorchTrainer

    num_workers = check_number(num_workers, "num_workers", owner, integer=True, low=1)
    _fit_blocks_to_store(ray, num_workers)
    max_failures = check_number(max_failures, "max_failures", owner, integer=True, low=0)
    buffer_rows = check_number(buffer_rows, "buffer_rows", owner, integer=True, low=1)
    spec = open_source(source, features, label, owner)
    _paths(source, owner)  # the workers read files: fail here, before any work
    plan = make_plan(
        estimator,
        teacher,
        temperature=temperature,
        hard_label_weight=hard_label_weight,
        epochs=epochs,
        batch_size=batch_size,
        random_state=random_state,
        n_rows=spec.n_rows,
        owner=owner,
    )
    if batch_size is None:
        plan.batch_size = max(1, plan.batch_size // num_workers)
    storage = os.fspath(storage_path or tempfile.mkdtemp(prefix="ikd-ray-"))
    scored_path = os.path.join(storage, f"scored-{uuid.uuid4().hex[:8]}")
    start = time.perf_counter()
    score_teacher_ray(
        plan.teacher,
        source,
        features=spec.features,
        label=label,
        num_workers=num_workers,
        use_gpu=use_gpu,
        verbose=verbose,
    ).write_parquet(scored_path)
    seconds = time.perf_counter() - start
    log(
        verbose,
        f"teacher scored {spec.n_rows:,}/{spec.n_rows:,} rows in {seconds:.1f} s "
        f"({spec.n_rows / max(seconds, 1e-9):,.0f} rows/s, {num_workers} actors)",
    )
    scored = ray.data.read_parquet(scored_path, fragment_scan_options=scan_options())
    stats = _ray_column_stats(scored, len(spec.features))
    plan.teacher = _teacher_with_classes(plan.teacher, spec)
    shipped = StreamPlan(**{**vars(plan), "teacher": _ClassesOnly(plan.teacher.classes_)})
    trainer = TorchTrainer(
        _train_loop,
        train_loop_config={
            "plan": shipped,
            "mean": stats.mean_scale()[0],
            "scale": stats.mean_scale()[1],
            "n_classes": len(plan.teacher.classes_),
            "n_rows": int(stats.n),
            "use_gpu": use_gpu,
            "buffer_rows": buffer_rows,
            "verbose": verbose is True,  # a callable stays home (see below)
            "storage": storage,
            "inject_failure": _inject_failure,
        },
        scaling_config=train.ScalingConfig(
            num_workers=num_workers,
            use_gpu=use_gpu,
            resources_per_worker={"CPU": _cpus_per_worker(ray, num_workers)},
        ),
        run_config=train.RunConfig(
            name=f"ikd-{uuid.uuid4().hex[:8]}",
            storage_path=storage,
            failure_config=train.FailureConfig(max_failures=max_failures),
            checkpoint_config=train.CheckpointConfig(num_to_keep=2),
        ),
        datasets={"train": scored},
    )
    result = trainer.fit()
    if result.checkpoint is None:  # pragma: no cover - Ray raises on a failed run
        raise RuntimeError(f"{owner}: Ray Train finished without a checkpoint.")
    with result.checkpoint.as_directory() as folder:
        state = torch.load(os.path.join(folder, "state.pt"), map_location="cpu")
    plan.student._prepare_fit(int(stats.n), len(plan.teacher.classes_))
    with isolated_torch_rng(plan.seed):
        module = plan.student._build_module(len(spec.features), len(plan.teacher.classes_))
    module.load_state_dict(state["module"])
    if callable(verbose):  # the workers printed nothing: the epochs, once trained
        for r in state["history"]:
            log(
                verbose,
                f"epoch {r['epoch']}/{plan.epochs}: loss {r['train_loss']:.4g}, "
                f"{r['rows_per_s']:,.0f} rows/s ({r['rows_per_s_per_worker']:,.0f} per worker)",
            )
    fitted = finalise_student(plan, module, stats, spec.features, state["history"])
    restarts = _restarts(storage)
    (fitted.student_ if hasattr(fitted, "student_") else fitted).ray_restarts_ = restarts
    return fitted


class _ClassesOnly:
    """What the workers need of the teacher: its classes (the teacher stays home)."""

    def __init__(self, classes: np.ndarray) -> None:
        self.classes_ = np.asarray(classes)


def _restarts(storage: str) -> int:
    """Failures injected by the test hook that the run survived (0 or 1)."""
    return int(os.path.exists(os.path.join(storage, "injected_failure")))


def _partial_stats(batch: dict[str, np.ndarray], n_features: int) -> dict[str, np.ndarray]:
    """One block's :class:`ColumnStats`, as a one-row batch."""
    X = np.column_stack([batch[f"x{j}"] for j in range(n_features)])
    part = ColumnStats.of(X)
    return {"n": np.array([part.n]), "mean": part.mean[None, :], "m2": part.m2[None, :]}


def _ray_column_stats(scored: Any, n_features: int) -> ColumnStats:
    """Column statistics of a scored dataset: partial sums per block, merged here."""
    parts = scored.map_batches(
        _partial_stats,
        fn_kwargs={"n_features": n_features},
        batch_format="numpy",
        batch_size=None,
    ).take_all()
    total = ColumnStats()
    for row in parts:
        total = total.merge(
            ColumnStats(int(row["n"]), np.asarray(row["mean"]), np.asarray(row["m2"]))
        )
    return total
