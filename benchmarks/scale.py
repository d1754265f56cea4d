"""Scale: distillation of each student on 1,000,000 x 20 synthetic rows.

Each student runs in a fresh Python process, so that one student's peak memory cannot
hide in another's. In that process:

1. 1,000,000 x 20 float32 rows are drawn (standard normal features; three classes from
   a fixed non-linear rule with 5% label noise), plus 100,000 held-out rows;
2. an ``MLPTeacher`` is trained on a 50,000-row sample for 15 epochs (its inference on
   the million rows, inside ``DistilledClassifier.fit``, runs in batches of 8,192 rows);
3. the kernel's peak-RSS mark is reset (``/proc/self/clear_refs``), then
   ``DistilledClassifier(teacher, student, temperature=4).fit(X, y)`` runs for one epoch,
   the mark is reset again and the same fit runs for ``--epochs`` epochs. Seconds per
   epoch = (time of the long fit - time of the one-epoch fit) / (epochs - 1): the fixed
   costs (teacher inference, input checks, the validation split) cancel out. Peak memory
   is the peak RSS of the whole process during each fit (data, teacher and Python
   included); if it does not grow from one epoch to several, nothing is copied per epoch.

Optionally (``--extras``, on in the full run) the soft tree is also distilled for one
epoch (a) with ``augment="both"`` and a million synthetic rows, to show what the transfer
set costs in memory, and (b) from a pandas DataFrame with named columns instead of a
NumPy array, as most users will call it.

    python -m benchmarks.scale            # 1,000,000 rows, 3 epochs, + the two extras
    python -m benchmarks.scale --quick    # 200,000 rows, 2 epochs, teacher 3 epochs

Writes ``scale.csv``, ``scale.md`` and ``scale.png`` (``scale_quick.*`` with ``--quick``)
into ``reports/benchmarks/``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import _common as common
from . import _students as student_kinds

NAME = "scale"
STUDENTS = tuple(student_kinds.STUDENTS)  # table names, in registry order
N_FEATURES = 20
N_CLASSES = 3
N_HELD_OUT = 100_000
TEACHER_ROWS = 50_000
BATCH_SIZE = 4096
LIMIT_MB = 2048
CHUNK = 100_000


# --------------------------------------------------------------------------- worker
def make_data(n_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 rows and int labels, built chunk by chunk (no float64 copy of the data)."""
    rule = np.random.default_rng(12345)  # the same rule for every call
    W = rule.standard_normal((N_FEATURES, N_CLASSES)).astype(np.float32)
    V = rule.standard_normal((N_FEATURES, N_CLASSES)).astype(np.float32)
    rng = np.random.default_rng(seed)
    X = np.empty((n_rows, N_FEATURES), dtype=np.float32)
    y = np.empty(n_rows, dtype=np.int64)
    for start in range(0, n_rows, CHUNK):
        stop = min(start + CHUNK, n_rows)
        block = rng.standard_normal((stop - start, N_FEATURES), dtype=np.float32)
        scores = block @ W + 1.5 * np.sin(block @ V)
        labels = scores.argmax(axis=1)
        flip = rng.random(stop - start) < 0.05
        labels[flip] = rng.integers(0, N_CLASSES, size=int(flip.sum()))
        X[start:stop], y[start:stop] = block, labels
    return X, y


def make_student(kind: str, max_epochs: int) -> Any:
    """A new student of the registered kind ``kind`` (a table name), seed 0.

    Parameters
    ----------
    kind : str
        Table name of the student kind, one of :data:`STUDENTS`.
    max_epochs : int
        Epoch cap.

    Returns
    -------
    estimator
        Unfitted, batches of ``BATCH_SIZE`` rows; the registry's defaults apply.
    """
    return student_kinds.make_student(
        kind, max_epochs=max_epochs, batch_size=BATCH_SIZE, random_state=0
    )


def worker(
    kind: str, n_rows: int, epochs: int, variant: str, teacher_epochs: int
) -> dict[str, Any]:
    """Everything measured for one student, in this (fresh) process. ``variant``: "plain",
    "augmented" or "dataframe" (the last two: one-epoch fit only)."""
    common.set_threads(1)
    import interpretable_kd as ikd

    rss_import = common.current_rss_mb()
    X_array, y = make_data(n_rows, seed=0)
    X_test_array, _ = make_data(N_HELD_OUT, seed=1)
    data_mb = X_array.nbytes / 2**20
    X: Any = X_array
    X_test: Any = X_test_array
    if variant == "dataframe":  # what the user holds: a DataFrame (pandas copies the array)
        columns = [f"feature_{j}" for j in range(N_FEATURES)]
        X, X_test = (
            pd.DataFrame(X_array, columns=columns),
            pd.DataFrame(X_test_array, columns=columns),
        )
    del X_array, X_test_array
    rss_data = common.current_rss_mb()
    sample = np.random.default_rng(0).choice(n_rows, min(TEACHER_ROWS, n_rows), replace=False)
    with common.Stopwatch() as teacher_time:
        teacher = ikd.MLPTeacher(
            hidden_units=(64, 64), max_epochs=teacher_epochs, batch_size=512, random_state=0
        ).fit(_rows(X, sample), y[sample])
    with common.Stopwatch() as inference_time:
        teacher.logits(X)
    # Warm-up: the first optimiser of a process pays one-off imports (torch._dynamo, seconds
    # on a busy machine); pay them here, not inside the timed fits.
    make_student(kind, 1).fit(_rows(X, np.arange(2000)), y[:2000])
    rss_before = common.current_rss_mb()
    result: dict[str, Any] = {
        "student": kind
        + {"plain": "", "augmented": ", augmented", "dataframe": ", DataFrame input"}[variant],
        "rows": n_rows,
        "features": N_FEATURES,
        "batch_size": BATCH_SIZE,
        "data_mb": data_mb,
        "rss_after_import_mb": rss_import,
        "rss_after_data_mb": rss_data,
        "rss_before_fit_mb": rss_before,
        "teacher_fit_seconds": teacher_time.seconds,
        "teacher_inference_seconds": inference_time.seconds,
        "peak_before_fit_mb": common.hwm_rss_mb(),
        "peak_reset_supported": common.reset_peak_rss(),
    }
    plans = [(1, "one_epoch")] + ([(epochs, "long")] if variant == "plain" else [])
    for n_epochs, label in plans:
        common.reset_peak_rss()
        model = ikd.DistilledClassifier(
            teacher,
            make_student(kind, n_epochs),
            temperature=4.0,
            augment="both" if variant == "augmented" else None,
            random_state=0,
        )
        with common.Stopwatch() as fit_time:
            model.fit(X, y)
        result[f"{label}_fit_seconds"] = fit_time.seconds
        result[f"{label}_peak_rss_mb"] = common.hwm_rss_mb()
        result[f"{label}_epochs_run"] = model.student_.n_iter_
    # Resetting the mark also resets getrusage's ru_maxrss: the process peak is the
    # largest of the marks read before each reset.
    result["peak_rss_mb"] = max(
        result["peak_before_fit_mb"],
        *(result[f"{label}_peak_rss_mb"] for _, label in plans),
    )
    if variant == "plain":
        run = result["long_epochs_run"] - result["one_epoch_epochs_run"]
        result["seconds_per_epoch"] = (
            (result["long_fit_seconds"] - result["one_epoch_fit_seconds"]) / run
            if run > 0
            else float("nan")
        )
    result["fidelity_held_out"] = float(np.mean(model.predict(X_test) == teacher.predict(X_test)))
    return result


def _rows(X: Any, index: np.ndarray) -> Any:
    return X.iloc[index] if isinstance(X, pd.DataFrame) else X[index]


# --------------------------------------------------------------------------- driver
def run_in_fresh_process(
    kind: str, n_rows: int, epochs: int, variant: str, teacher_epochs: int
) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.scale",
        "--worker",
        kind,
        "--rows",
        str(n_rows),
        "--epochs",
        str(epochs),
        "--teacher-epochs",
        str(teacher_epochs),
        "--variant",
        variant,
    ]
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=common.REPO_ROOT, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"scale worker {kind!r} failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - started
    return result


def write_report(
    results: pd.DataFrame, path: Path, args: argparse.Namespace, seconds: float
) -> list[str]:
    command = "python -m benchmarks.scale" + (" --quick" if args.quick else "")
    n_rows = int(results["rows"].iloc[0])
    worst = results["peak_rss_mb"].max()
    plain = results[results["seconds_per_epoch"].notna()]
    lines = [
        f"# Scale: distillation on {n_rows:,} x {N_FEATURES} rows",
        "",
        f"Generated by `{command}` in {seconds / 60:.1f} minutes on {common.machine_line()}",
        "",
        "Each student in a fresh process (peaks do not mix). Data: float32, "
        f"{results['data_mb'].iloc[0]:.0f} MB for the training rows. Teacher: `MLPTeacher()` "
        f"trained on {TEACHER_ROWS:,} rows; its inference on all rows runs in batches inside "
        "`DistilledClassifier.fit`. Students: library defaults except "
        f"`batch_size={BATCH_SIZE}`; `DistilledClassifier(teacher, student, temperature=4)`"
        ".fit(X, y) with early stopping on 10% of the rows. Seconds per epoch: (time of the "
        f"{args.epochs}-epoch fit - time of the 1-epoch fit) / (epochs - 1), so teacher "
        "inference and set-up are not counted; the 1-epoch fit's time includes them. Peak "
        "RSS: whole process (Python, torch, data, teacher), reset before each fit "
        "(`/proc/self/clear_refs`); 'process peak' also covers making the data and training "
        "the teacher. torch runs on 1 thread.",
        "",
        "| student | s / epoch | 1-epoch fit s (incl. teacher inference) | teacher inference s | "
        "RSS before fit MB | peak RSS, 1 epoch MB | peak RSS, "
        f"{args.epochs} epochs MB | process peak MB | fidelity (held out) of the last fit | "
        "<= 2 GB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for _, row in results.iterrows():
        per_epoch = row.get("seconds_per_epoch", float("nan"))
        long_peak = row.get("long_peak_rss_mb", float("nan"))
        lines.append(
            f"| {row['student']} | "
            + ("–" if pd.isna(per_epoch) else f"{per_epoch:.2f}")
            + f" | {row['one_epoch_fit_seconds']:.1f} | "
            f"{row['teacher_inference_seconds']:.1f} | {row['rss_before_fit_mb']:.0f} | "
            f"{row['one_epoch_peak_rss_mb']:.0f} | "
            + ("–" if pd.isna(long_peak) else f"{long_peak:.0f}")
            + f" | {row['peak_rss_mb']:.0f} | {row['fidelity_held_out']:.3f} | "
            f"{'yes' if row['peak_rss_mb'] <= LIMIT_MB else '**NO**'} |"
        )
    growth = (plain["long_peak_rss_mb"] - plain["one_epoch_peak_rss_mb"]).max()
    lines += [
        "",
        f"**Peak memory: {worst:.0f} MB at most ({worst / 1024:.2f} GB), "
        f"{'within' if worst <= LIMIT_MB else 'ABOVE'} the 2 GB limit.** From 1 epoch to "
        f"{args.epochs} epochs the peak grows by {growth:.0f} MB at most: nothing is copied "
        "per epoch. The peak above the RSS before the fit is what one fit holds at once: "
        "the validated float32 copy of X, the training-rows copy made for the train / "
        "validation split, the teacher's logits (float64) and their float32 log-softmax "
        "targets, and the shuffled index of each epoch.",
        "",
        "Fidelity: share of 100,000 held-out rows where the student of the last fit "
        f"({args.epochs} epochs; 1 epoch for the extras) predicts the teacher's class.",
        "",
        "Extras (one-epoch fits of the soft tree, when run): 'augmented' adds as many "
        "synthetic rows as there are training rows (`augment='both'`), which the teacher "
        "labels; 'DataFrame input' passes the same rows as a pandas DataFrame with named "
        "columns, as most users will. The difference between their peaks and the plain soft "
        "tree's is what augmentation and DataFrame handling cost in memory.",
        "",
        "![scale](" + path.stem + ".png)",
    ]
    common.write_markdown(lines, path)
    return [f"peak RSS {worst:.0f} MB (limit {LIMIT_MB} MB)"]


def headline(results: pd.DataFrame, md_name: str) -> list[str]:
    """The summary's scale section (used by the runner)."""
    table = results[
        ["student", "rows", "seconds_per_epoch", "one_epoch_fit_seconds", "peak_rss_mb"]
    ].copy()
    table.columns = ["student", "rows", "s / epoch", "1-epoch fit s", "peak RSS MB"]
    worst = results["peak_rss_mb"].max()
    return [
        *common.markdown_table(
            table,
            {
                "rows": "{:,}",
                "s / epoch": "{:.2f}",
                "1-epoch fit s": "{:.1f}",
                "peak RSS MB": "{:.0f}",
            },
        ),
        "",
        f"**Peak memory {worst:.0f} MB ({worst / 1024:.2f} GB): "
        f"{'within' if worst <= LIMIT_MB else 'ABOVE'} the 2 GB limit.** "
        f"Details: [{md_name}]({md_name}).",
        "",
    ]


def plot(results: pd.DataFrame, path: Path) -> None:
    plt = common.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    axes[0].barh(results["student"], results["peak_rss_mb"], color="tab:blue")
    axes[0].axvline(LIMIT_MB, color="tab:red", linestyle="--", label="2 GB limit")
    axes[0].set_xlabel("peak RSS of the process (MB)")
    axes[0].legend(fontsize=8)
    plain = (
        results[results["seconds_per_epoch"].notna()] if "seconds_per_epoch" in results else results
    )
    axes[1].barh(plain["student"], plain["seconds_per_epoch"], color="tab:green")
    axes[1].set_xlabel(f"seconds per epoch ({int(results['rows'].iloc[0]):,} rows)")
    for ax in axes:
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    common.save_figure(fig, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="200,000 rows, 2 epochs")
    parser.add_argument("--rows", type=int, default=None, help="rows (default 1,000,000)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (default 3, quick 2)")
    parser.add_argument(
        "--extras",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also the soft tree augmented and from a DataFrame (default: on; off with --quick)",
    )
    parser.add_argument("--variant", default="plain", help=argparse.SUPPRESS)
    parser.add_argument(
        "--from-csv", action="store_true", help="rewrite the report from an earlier run's CSV"
    )
    parser.add_argument("--out", type=Path, default=common.OUT_DIR, help="output folder")
    parser.add_argument(
        "--teacher-epochs", type=int, default=None, help="teacher epochs (default 15, quick 3)"
    )
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    common.set_threads(1)
    args.rows = args.rows or (200_000 if args.quick else 1_000_000)
    args.epochs = args.epochs or (2 if args.quick else 3)
    args.teacher_epochs = args.teacher_epochs or (3 if args.quick else 15)
    if args.worker is not None:
        result = worker(args.worker, args.rows, args.epochs, args.variant, args.teacher_epochs)
        print(json.dumps(result, default=float))
        return 0
    if args.from_csv:
        stem = common.stem(NAME, args.quick)
        meta = json.loads((args.out / f"{stem}_run.json").read_text())
        args.epochs = meta["epochs"]
        return finish(pd.read_csv(args.out / f"{stem}.csv"), args, meta["seconds"])
    extras = (not args.quick) if args.extras is None else args.extras
    start = time.perf_counter()
    rows = []
    plan = [(s, "plain") for s in STUDENTS]
    if extras:
        plan += [("soft tree", "augmented"), ("soft tree", "dataframe")]
    for kind, variant in plan:
        result = run_in_fresh_process(kind, args.rows, args.epochs, variant, args.teacher_epochs)
        rows.append(result)
        print(
            f"[{time.perf_counter() - start:7.1f} s] scale {result['student']}: "
            f"{result.get('seconds_per_epoch', float('nan')):.2f} s/epoch, peak RSS "
            f"{result['peak_rss_mb']:.0f} MB (before fit {result['rss_before_fit_mb']:.0f} MB)",
            flush=True,
        )
    results = pd.DataFrame(rows)
    stem = common.stem(NAME, args.quick)
    seconds = time.perf_counter() - start
    common.write_csv(results, args.out / f"{stem}.csv")
    common.write_json({"seconds": seconds, "epochs": args.epochs}, args.out / f"{stem}_run.json")
    return finish(results, args, seconds)


def finish(results: pd.DataFrame, args: argparse.Namespace, seconds: float) -> int:
    stem = common.stem(NAME, args.quick)
    plot(results, args.out / f"{stem}.png")
    for line in write_report(results, args.out / f"{stem}.md", args, seconds):
        print(line)
    print(f"wrote {common.relative(args.out / (stem + '.md'))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
