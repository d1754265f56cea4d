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
    python -m benchmarks.scale_out --rows 2000000 20000000 --large-modes stream,ray2,ray1
                                                    # the committed run (README numbers)

Writes ``scale_out.csv`` and ``scale_out_run.json`` (``scale_out_quick.*``) into
``reports/benchmarks/``; the written model is ``reports/benchmarks/scale_out.md``.
"""

from __future__ import annotations

import argparse
import json
import os
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


def _proc_status(pid: int) -> dict[str, int]:
    """``VmHWM``, ``VmRSS``, ``RssAnon`` and ``RssShmem`` of a process, in KiB."""
    keys = ("VmHWM", "VmRSS", "RssAnon", "RssShmem")
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
        for line in handle:
            name = line.split(":", 1)[0]
            if name in keys:
                out[name] = int(line.split()[1])
    return out


def _role(pid: int) -> str:
    """A short name for a process of the Ray cluster (from its command line)."""
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        words = handle.read().split(b"\0")
    text = b" ".join(words).decode(errors="replace")
    for role in ("raylet", "gcs_server", "dashboard", "log_monitor", "monitor.py"):
        if role in text:
            return role
    first = words[0].decode(errors="replace")
    return first.split(" ")[0] if first.startswith("ray::") else "other"


class PeriodicSampler:
    """Calls :meth:`sample` every ``period`` s on a daemon thread while in a ``with``
    block, and once more on leaving it."""

    def __init__(self, period: float = 1.0) -> None:
        import threading

        self.period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self.period):
            self.sample()

    def __enter__(self) -> PeriodicSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


class ProcessSampler(PeriodicSampler):
    """Every ``period`` s, the peak RSS (``VmHWM``) and anonymous (private) RSS of every
    descendant of this process (the Ray cluster's processes), kept per process.

    ``VmHWM`` is the kernel's own peak, so a process sampled at least once before it
    exits is measured exactly; ``RssAnon`` (sampled) leaves out the shared-memory object
    store pages that a Ray worker maps and that RSS counts.
    """

    def __init__(self, period: float = 1.0) -> None:
        super().__init__(period)
        self.peaks: dict[int, dict[str, Any]] = {}

    def _descendants(self) -> list[int]:
        import os

        parent: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                        parent[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
        found, frontier = [], [os.getpid()]
        while frontier:
            pid = frontier.pop()
            children = [c for c, p in parent.items() if p == pid]
            found += children
            frontier += children
        return found

    def sample(self) -> None:
        for pid in [os.getpid(), *self._descendants()]:
            try:
                status = _proc_status(pid)
                role = "driver" if pid == os.getpid() else _role(pid)
            except (OSError, ValueError):
                continue
            peak = self.peaks.setdefault(pid, {"role": role, "hwm_kb": 0, "anon_kb": 0})
            if role != "other":
                peak["role"] = role
            peak["hwm_kb"] = max(peak["hwm_kb"], status.get("VmHWM", 0))
            peak["anon_kb"] = max(peak["anon_kb"], status.get("RssAnon", 0))

    def by_role(self) -> dict[str, dict[str, float]]:
        """Per role: processes seen, the largest peak RSS and the largest private RSS,
        MiB."""
        roles: dict[str, dict[str, float]] = {}
        for peak in self.peaks.values():
            entry = roles.setdefault(peak["role"], {"n": 0, "peak_rss_mb": 0.0, "anon_mb": 0.0})
            entry["n"] += 1
            entry["peak_rss_mb"] = max(entry["peak_rss_mb"], peak["hwm_kb"] / 1024)
            entry["anon_mb"] = max(entry["anon_mb"], peak["anon_kb"] / 1024)
        return roles


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """One measurement, in this (fresh) process."""
    common.set_threads(1)
    from interpretable_kd import MLPTeacher, SoftLogisticRegression
    from interpretable_kd.distributed import fit_ray, fit_streaming

    teacher = MLPTeacher.load(args.teacher)
    student = SoftLogisticRegression(batch_size=args.batch_size, random_state=0)
    start, load_before = time.perf_counter(), os.getloadavg()
    sampler = ProcessSampler()
    with sampler:
        if args.mode == "stream":
            fitted = fit_streaming(
                student, args.data, teacher=teacher, epochs=args.epochs, spill_dir=args.scratch
            )
            workers = 1
        else:
            import ray

            workers = int(args.mode[3:])
            store = {"object_store_memory": args.object_store_mb * 2**20}
            ray.init(
                num_cpus=args.cpus,
                include_dashboard=False,
                log_to_driver=False,
                **(store if args.object_store_mb else {}),
            )
            if args.block_mb:  # Ray Data's largest block (default 128 MiB)
                ray.data.DataContext.get_current().target_max_block_size = args.block_mb * 2**20
            fitted = fit_ray(
                student,
                args.data,
                teacher=teacher,
                num_workers=workers,
                epochs=args.epochs,
                storage_path=tempfile.mkdtemp(prefix="ikd-bench-", dir=args.scratch),
            )
    seconds = time.perf_counter() - start
    load_after = os.getloadavg()
    roles = sampler.by_role()
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
        "object_store_mb": args.object_store_mb,
        "block_mb": args.block_mb,
        "driver_private_mb": roles.get("driver", {}).get("anon_mb", 0.0),
        "load_1min_before": load_before[0],
        "load_5min_after": load_after[1],
        "ray_processes": json.dumps(
            {k: {m: round(v, 1) for m, v in e.items()} for k, e in sorted(roles.items())}
        ),
        "ray_max_process_peak_rss_mb": max(
            (e["peak_rss_mb"] for r, e in roles.items() if r != "driver"), default=0
        ),
    }


def run_one(mode: str, rows: int, data: Path, teacher: Path, args: argparse.Namespace) -> dict:
    """Run :func:`worker` in a fresh process and return its result."""
    command = [
        sys.executable, "-m", "benchmarks.scale_out", "--worker", "--mode", mode,
        "--rows", str(rows), "--data", str(data), "--teacher", str(teacher),
        "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
        "--cpus", str(args.cpus), "--scratch", str(args.scratch),
        "--object-store-mb", str(args.object_store_mb), "--block-mb", str(args.block_mb),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    log = Path(args.scratch) / f"worker_{mode}_{rows}.log"
    log.write_text(f"{done.stdout}\n--- stderr ---\n{done.stderr}", encoding="utf-8")
    if done.returncode != 0:
        raise RuntimeError(f"{mode} on {rows:,} rows failed:\n{done.stderr[-4000:]}")
    # the result is the last JSON line (Ray may print after it at shutdown)
    for line in reversed(done.stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"{mode} on {rows:,} rows printed no result; see {log}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, with ``--worker``, one measurement)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rows", type=int, nargs="*", default=None)
    parser.add_argument("--modes", default="stream,ray1,ray2")
    parser.add_argument("--large-modes", default="", help="modes for sizes >= --large-rows")
    parser.add_argument("--large-rows", type=int, default=10_000_000)
    parser.add_argument("--tag", default="", help="suffix of the output files' names")
    parser.add_argument(
        "--object-store-mb", type=int, default=0, help="Ray object store size (0: Ray's default)"
    )
    parser.add_argument(
        "--block-mb", type=int, default=0, help="Ray Data's largest block (0: Ray's default)"
    )
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
    results: list[dict[str, Any]] = []
    stem = ("scale_out_quick" if args.quick else "scale_out") + args.tag
    for rows in sizes:
        data = scratch / f"rows_{rows}.parquet"
        written = write_parquet(data, rows)
        print(f"wrote {rows:,} rows in {written:.1f} s ({data.stat().st_size / 2**20:.0f} MiB)")
        modes = args.modes.split(",")
        if args.large_modes and rows >= args.large_rows:
            modes = args.large_modes.split(",")
        for mode in modes:
            try:
                result = run_one(mode, rows, data, teacher_path, args)
            except RuntimeError as exc:  # keep what was measured; say what failed
                print(str(exc)[-2000:], flush=True)
                result = {"mode": mode, "rows": rows, "failed": str(exc)[-300:]}
            results.append(result)
            print(json.dumps(result), flush=True)
            _write(results, args, scratch, stem)  # after each run: a long run can be read
        data.unlink()
    print(pd.DataFrame(results).to_string(index=False))
    return 0


def _write(results: list[dict[str, Any]], args: argparse.Namespace, scratch: Path, stem: str):
    """The results so far, as CSV and JSON under ``reports/benchmarks/``."""
    out = Path(common.OUT_DIR)
    common.write_csv(pd.DataFrame(results), out / f"{stem}.csv")
    common.write_json(
        {"machine": common.machine_info(), "args": {**vars(args), "scratch": str(scratch)},
         "results": results},
        out / f"{stem}_run.json",
    )  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
