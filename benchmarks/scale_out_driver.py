"""Where a Ray fit's driver memory goes: :func:`fit_ray` with its phases timed and the
driver's memory sampled (issue 16).

A thread samples, every ``--period`` s, the driver's ``VmRSS``, ``RssAnon`` (private),
``RssShmem`` (mapped object-store pages) and Arrow's allocated bytes; the phases of
:func:`fit_ray` (teacher scoring, the statistics pass, building the trainer, Ray Train)
are marked by wrapping the functions it calls. Printed: per phase, the private memory at
its start and end and its peak, and the pickled size of the datasets the driver ships to
Ray Train's controller.

    python -m benchmarks.scale_out_driver --rows 2000000 --object-store-mb 512

The Parquet file and teacher are written as in ``benchmarks/scale_out.py``; output is a
JSON line per phase (nothing is written under ``reports/``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import _common as common
from .scale_out import TEACHER_ROWS, PeriodicSampler, make_chunk, write_parquet


def _status_mb() -> dict[str, float]:
    """This process's ``VmRSS``, ``RssAnon`` and ``RssShmem`` (MiB)."""
    out: dict[str, float] = {}
    with open("/proc/self/status", encoding="utf-8") as handle:
        for line in handle:
            name = line.split(":", 1)[0]
            if name in ("VmRSS", "RssAnon", "RssShmem", "VmHWM"):
                out[name] = int(line.split()[1]) / 1024
    return out


class Tracer(PeriodicSampler):
    """Memory samples tagged with the current phase."""

    def __init__(self, period: float) -> None:
        super().__init__(period)
        self.phase = "start"
        self.samples: list[dict[str, Any]] = []
        self._t0 = time.perf_counter()

    def sample(self) -> None:
        import pyarrow as pa

        row = {"t": time.perf_counter() - self._t0, "phase": self.phase, **_status_mb()}
        row["arrow_mb"] = pa.total_allocated_bytes() / 2**20
        self.samples.append(row)

    def mark(self, phase: str) -> None:
        self.sample()
        self.phase = phase
        self.sample()

    def wrap(self, owner: Any, name: str, phase: str) -> None:
        """Mark ``phase`` while ``owner.name`` runs (then back to the caller's)."""
        inner: Callable[..., Any] = getattr(owner, name)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            before = self.phase
            self.mark(phase)
            try:
                return inner(*args, **kwargs)
            finally:
                self.mark(f"after {phase}" if before == "start" else before)

        setattr(owner, name, wrapped)

    def summary(self) -> list[dict[str, Any]]:
        """Per phase, in order: seconds, private memory first/last/peak, RSS peak."""
        phases: list[dict[str, Any]] = []
        for row in self.samples:
            if not phases or phases[-1]["phase"] != row["phase"]:
                phases.append({"phase": row["phase"], "t0": row["t"], "first_anon": row["RssAnon"],
                               "peak_anon": 0.0, "peak_rss": 0.0, "peak_shmem": 0.0,
                               "peak_arrow": 0.0})  # fmt: skip
            entry = phases[-1]
            entry["t1"], entry["last_anon"] = row["t"], row["RssAnon"]
            entry["peak_anon"] = max(entry["peak_anon"], row["RssAnon"])
            entry["peak_rss"] = max(entry["peak_rss"], row["VmRSS"])
            entry["peak_shmem"] = max(entry["peak_shmem"], row["RssShmem"])
            entry["peak_arrow"] = max(entry["peak_arrow"], row["arrow_mb"])
        return [{k: round(v, 1) if isinstance(v, float) else v for k, v in p.items()}
                for p in phases]  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """Run one traced :func:`fit_ray` and print the per-phase memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--object-store-mb", type=int, default=512)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--period", type=float, default=0.25)
    parser.add_argument("--scratch", default=tempfile.gettempdir())
    parser.add_argument("--data", default=None, help="an existing Parquet file to reuse")
    args = parser.parse_args(argv)
    common.set_threads(1)
    import ray
    from ray.train.torch import TorchTrainer

    from interpretable_kd import MLPTeacher, SoftLogisticRegression
    from interpretable_kd.distributed import ray_engine

    scratch = Path(tempfile.mkdtemp(prefix="ikd-driver-", dir=args.scratch))
    X, y = make_chunk(TEACHER_ROWS, seed=7)
    teacher = MLPTeacher(max_epochs=15, batch_size=512, random_state=0).fit(X, y)
    data = Path(args.data) if args.data else scratch / f"rows_{args.rows}.parquet"
    if not args.data:
        write_parquet(data, args.rows)
    tracer = Tracer(args.period)
    tracer.wrap(ray_engine, "score_teacher_ray", "score (build)")
    tracer.wrap(ray_engine, "_ray_column_stats", "column stats")
    tracer.wrap(TorchTrainer, "__init__", "TorchTrainer()")
    tracer.wrap(TorchTrainer, "fit", "TorchTrainer.fit")
    pickled: dict[str, int] = {}
    fit = TorchTrainer.fit

    def measured_fit(self: Any) -> Any:
        pickled["datasets_pickled_bytes"] = len(ray.cloudpickle.dumps(self.datasets))
        return fit(self)

    TorchTrainer.fit = measured_fit  # type: ignore[method-assign]
    import ray.data

    write = ray.data.Dataset.write_parquet
    tracer.wrap(ray.data.Dataset, "write_parquet", "score (run + write)")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=args.object_store_mb * 2**20)  # fmt: skip
    student = SoftLogisticRegression(batch_size=1024, random_state=0)
    with tracer:
        tracer.mark("fit_ray")
        ray_engine.fit_ray(student, data, teacher=teacher, num_workers=args.workers,
                           epochs=args.epochs, storage_path=str(scratch / "storage"))  # fmt: skip
        tracer.mark("done")
    ray.data.Dataset.write_parquet = write  # type: ignore[method-assign]
    for entry in tracer.summary():
        print(json.dumps(entry))
    print(json.dumps({"rows": args.rows, **pickled, "driver_peak_mb": common.peak_rss_mb()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
