"""Scale out: distillation from Parquet, out of core on one machine and on a local Ray
cluster.

1. Rows are written to Parquet chunk by chunk (20 float32 features, three classes from
   the rule of ``benchmarks/scale.py``), never all in memory.
2. An ``MLPTeacher`` is trained on a 50,000-row sample and saved.
3. Each measurement runs in a fresh Python process (so peak RSS is its own):
   ``stream`` -- :func:`interpretable_kd.distributed.fit_streaming`; ``ray1`` and
   ``ray2`` -- :func:`interpretable_kd.distributed.fit_ray` with 1 and 2 training workers
   on a local Ray cluster (``ray.init(num_cpus=...)``). Measured: wall time, the driver
   process's peak RSS, the largest peak RSS of a training worker (Ray), training rows/s
   overall and per worker (from ``history_``), and fidelity on 100,000 held-out rows.

    python -m benchmarks.scale_out                  # 200,000 and 2,000,000 rows
    python -m benchmarks.scale_out --rows 20000000  # add sizes (disk: ~100 B per row)
    python -m benchmarks.scale_out --quick          # 100,000 rows, 1 epoch

Writes ``scale_out.csv`` and ``scale_out_run.json`` (``scale_out_quick.*``) into
``reports/benchmarks/``; the written model is ``reports/benchmarks/scale_out.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import _common as common

N_FEATURES = 20
N_CLASSES = 3
CHUNK = 250_000
TEACHER_ROWS = 50_000
HELD_OUT = 100_000
FEATURES = [f"f{j}" for j in range(N_FEATURES)]


def make_chunk(n_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 rows and labels from the rule of ``benchmarks/scale.py`` (5% label noise)."""
    rule = np.random.default_rng(12345)
    W = rule.standard_normal((N_FEATURES, N_CLASSES)).astype(np.float32)
    V = rule.standard_normal((N_FEATURES, N_CLASSES)).astype(np.float32)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, N_FEATURES), dtype=np.float32)
    y = (X @ W + 1.5 * np.sin(X @ V)).argmax(axis=1)
    flip = rng.random(n_rows) < 0.05
    y[flip] = rng.integers(0, N_CLASSES, size=int(flip.sum()))
    return X, y


def write_parquet(path: Path, n_rows: int) -> float:
    """Write ``n_rows`` rows chunk by chunk; returns seconds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    start, writer = time.perf_counter(), None
    for i, lo in enumerate(range(0, n_rows, CHUNK)):
        X, _ = make_chunk(min(CHUNK, n_rows - lo), seed=1000 + i)
        table = pa.table({name: X[:, j] for j, name in enumerate(FEATURES)})
        writer = writer or pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=65_536)
    assert writer is not None
    writer.close()
    return time.perf_counter() - start


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """One measurement, in this (fresh) process."""
    common.set_threads(1)
    from interpretable_kd import MLPTeacher, SoftLogisticRegression
    from interpretable_kd.distributed import fit_ray, fit_streaming

    teacher = MLPTeacher.load(args.teacher)
    student = SoftLogisticRegression(batch_size=args.batch_size, random_state=0)
    start = time.perf_counter()
    if args.mode == "stream":
        fitted = fit_streaming(student, args.data, teacher=teacher, epochs=args.epochs)
        workers = 1
    else:
        import ray

        workers = int(args.mode[3:])
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
        fitted = fit_ray(
            student,
            args.data,
            teacher=teacher,
            num_workers=workers,
            epochs=args.epochs,
            storage_path=tempfile.mkdtemp(prefix="ikd-bench-", dir=args.scratch),
        )
    seconds = time.perf_counter() - start
    X_test, _ = make_chunk(HELD_OUT, seed=999)
    frame = pd.DataFrame(X_test, columns=FEATURES)
    fidelity = float(np.mean(fitted.predict(frame) == teacher.predict(X_test)))
    history = fitted.history_
    return {
        "mode": args.mode,
        "rows": args.rows,
        "workers": workers,
        "epochs": len(history),
        "seconds": seconds,
        "driver_peak_rss_mb": common.peak_rss_mb(),
        "worker_peak_rss_mb": max(r.get("worker_peak_rss_mb", 0.0) for r in history),
        "train_rows_per_s": float(np.median([r["rows_per_s"] for r in history])),
        "train_rows_per_s_per_worker": float(
            np.median([r.get("rows_per_s_per_worker", r["rows_per_s"]) for r in history])
        ),
        "fidelity": fidelity,
        "parameters": int(fitted.n_parameters_),
    }


def run_one(mode: str, rows: int, data: Path, teacher: Path, args: argparse.Namespace) -> dict:
    """Run :func:`worker` in a fresh process and return its result."""
    command = [
        sys.executable, "-m", "benchmarks.scale_out", "--worker", "--mode", mode,
        "--rows", str(rows), "--data", str(data), "--teacher", str(teacher),
        "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
        "--cpus", str(args.cpus), "--scratch", str(args.scratch),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{mode} on {rows:,} rows failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, with ``--worker``, one measurement)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", type=int, nargs="*", default=None)
    parser.add_argument("--modes", default="stream,ray1,ray2")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--scratch", default=tempfile.gettempdir())
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--teacher", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.rows = args.rows[0]
        print(json.dumps(worker(args)))
        return 0
    sizes = args.rows or ([100_000] if args.quick else [200_000, 2_000_000])
    if args.quick:
        args.epochs = 1
    from interpretable_kd import MLPTeacher

    scratch = Path(tempfile.mkdtemp(prefix="ikd-scale-out-", dir=args.scratch))
    args.scratch = scratch
    X, y = make_chunk(TEACHER_ROWS, seed=7)
    teacher_path = scratch / "teacher.safetensors"
    MLPTeacher(max_epochs=15, batch_size=512, random_state=0).fit(X, y).save(teacher_path)
    results = []
    for rows in sizes:
        data = scratch / f"rows_{rows}.parquet"
        written = write_parquet(data, rows)
        print(f"wrote {rows:,} rows in {written:.1f} s ({data.stat().st_size / 2**20:.0f} MiB)")
        for mode in args.modes.split(","):
            result = run_one(mode, rows, data, teacher_path, args)
            results.append(result)
            print(json.dumps(result), flush=True)
        data.unlink()
    frame = pd.DataFrame(results)
    out = common.OUT_DIR
    stem = "scale_out_quick" if args.quick else "scale_out"
    common.write_csv(frame, Path(out) / f"{stem}.csv")
    common.write_json(
        {"machine": common.machine_info(), "args": {**vars(args), "scratch": str(scratch)},
         "results": results},
        Path(out) / f"{stem}_run.json",
    )  # fmt: skip
    print(frame.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
