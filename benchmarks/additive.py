"""The additive student (GA2M) against InterpretML's EBM on the teacher's labels.

Issue 15: the distilled ``AdditiveClassifier`` must agree with the teacher at least as
often as ``ExplainableBoostingClassifier(outer_bags=1)`` fitted on the teacher's predicted
labels of the training rows, minus 0.003, on every data set and both teacher kinds, in at
most 1/5 of EBM's fit time measured in the same run.

For each data set (the splits of :func:`benchmarks.fidelity.load_split`: stratified 70/30
per seed, the library's preprocessing, standardised float32 columns), each teacher kind
(``MLPTeacher`` at its defaults; scikit-learn's ``HistGradientBoostingClassifier`` wrapped
with ``as_teacher``) and each seed:

- ours: ``DistilledClassifier(teacher, AdditiveClassifier(n_jobs=1))`` at library
  defaults (``temperature="auto"``), timed over the whole ``fit`` (teacher logits, the
  temperature search and the final fit);
- EBM: ``ExplainableBoostingClassifier(outer_bags=1, n_jobs=1)`` fitted on
  ``teacher.predict(X_train)`` (the labelling is not timed).

Fidelity is agreement with the teacher's decisions on the held-out rows. Paired
differences (ours - EBM) per seed, mean with a 95% t interval over the seeds where both
ran; time ratio = our fit seconds / EBM fit seconds, median over those seeds. Everything
runs in one process on one thread. EBM is slow on the two large sets: ``--ebm-seeds-large``
caps its seeds there (our student still runs every seed).

    python -m benchmarks.additive [--seeds 3] [--ebm-seeds-large 1] [--datasets ...]

Writes ``reports/benchmarks/additive.csv`` (one row per model and cell) and
``additive.md``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

import interpretable_kd as ikd
from interpretable_kd.students.additive import AdditiveClassifier

from . import fidelity
from ._common import (
    OUT_DIR,
    machine_line,
    markdown_table,
    mean_ci,
    set_threads,
    write_csv,
    write_markdown,
)
from .fidelity import load_split

NAME = "additive"
DATASETS = fidelity.DATASETS
LARGE = ("adult", "synthetic_100k")
TEACHERS = ("MLPTeacher", "HistGradientBoosting")
FIDELITY_MARGIN = 0.003
TIME_RATIO = 0.2


def make_teacher(kind: str, X: np.ndarray, y: np.ndarray, seed: int) -> Any:
    """A fitted teacher of ``kind`` at its defaults, seeded, on one thread."""
    if kind == "MLPTeacher":
        teacher = ikd.MLPTeacher(random_state=seed)
        if "n_jobs" in teacher.get_params():
            teacher.set_params(n_jobs=1)
        return teacher.fit(X, y)
    model = HistGradientBoostingClassifier(random_state=seed).fit(X, y)
    return ikd.as_teacher(model)


def run_cell(name: str, kind: str, seed: int, with_ebm: bool) -> list[dict[str, Any]]:
    """Ours (and EBM) on one data set, teacher kind and seed."""
    split = load_split(name, seed)
    teacher = make_teacher(kind, split.X_train, split.y_train, seed)
    target = teacher.predict(split.X_test)
    base = {"dataset": name, "teacher": kind, "seed": seed, "n_train": len(split.X_train)}
    base["n_features"] = split.X_train.shape[1]
    rows = []
    student = AdditiveClassifier(random_state=seed, n_jobs=1)
    distiller = ikd.DistilledClassifier(teacher, student, random_state=seed)
    if "n_jobs" in distiller.get_params(deep=False):
        distiller.set_params(n_jobs=1)
    start = time.perf_counter()
    distiller.fit(split.X_train)
    seconds = time.perf_counter() - start
    fitted = distiller.student_
    rows.append(
        {
            **base,
            "model": "additive (distilled)",
            "fidelity": float(np.mean(distiller.predict(split.X_test) == target)),
            "fit_seconds": seconds,
            "temperature": getattr(distiller, "temperature_", np.nan),
            "interactions": len(fitted.interactions_),
            "knots": getattr(fitted, "n_knots_", np.nan),
            "solver": getattr(fitted, "solver_", ""),
        }
    )
    if with_ebm:
        from interpret.glassbox import ExplainableBoostingClassifier

        labels = teacher.predict(split.X_train)
        ebm = ExplainableBoostingClassifier(outer_bags=1, n_jobs=1, random_state=seed)
        start = time.perf_counter()
        ebm.fit(split.X_train, labels)
        seconds = time.perf_counter() - start
        rows.append(
            {
                **base,
                "model": "EBM (outer_bags=1)",
                "fidelity": float(np.mean(ebm.predict(split.X_test) == target)),
                "fit_seconds": seconds,
                "temperature": np.nan,
                "interactions": len([t for t in ebm.term_features_ if len(t) == 2]),
                "knots": np.nan,
                "solver": "",
            }
        )
    return rows


def summarise(cells: pd.DataFrame) -> pd.DataFrame:
    """Per data set and teacher: fidelities, the paired difference with its interval,
    the median time ratio, and whether the targets hold."""
    out = []
    for (name, kind), group in cells.groupby(["dataset", "teacher"], sort=False):
        ours = group[group.model == "additive (distilled)"].set_index("seed")
        ebm = group[group.model == "EBM (outer_bags=1)"].set_index("seed")
        both = ours.index.intersection(ebm.index)
        diff = (ours.loc[both, "fidelity"] - ebm.loc[both, "fidelity"]).to_numpy()
        mean, low, high = mean_ci(diff) if both.size else (np.nan, np.nan, np.nan)
        ratio = (
            float(np.median(ours.loc[both, "fit_seconds"] / ebm.loc[both, "fit_seconds"]))
            if both.size
            else np.nan
        )
        out.append(
            {
                "dataset": name,
                "teacher": kind,
                "seeds (ours/EBM)": f"{len(ours)}/{len(both)}",
                "additive fidelity": ours["fidelity"].mean(),
                "EBM fidelity": ebm["fidelity"].mean() if len(ebm) else np.nan,
                "difference": mean,
                "low": low,
                "high": high,
                "additive s": ours["fit_seconds"].median(),
                "EBM s": ebm["fit_seconds"].median() if len(ebm) else np.nan,
                "time ratio": ratio,
                "fidelity target": bool(mean >= -FIDELITY_MARGIN) if both.size else None,
                "time target": bool(ratio <= TIME_RATIO) if both.size else None,
            }
        )
    return pd.DataFrame(out)


def write_report(cells: pd.DataFrame, out: Path, args: argparse.Namespace, wall: float) -> None:
    summary = summarise(cells)
    yes = {True: "yes", False: "**no**", None: "–"}
    shown = summary.copy()
    shown["interval"] = [
        "–" if np.isnan(lo) else f"[{lo:+.4f}, {hi:+.4f}]"
        for lo, hi in zip(summary["low"], summary["high"], strict=True)
    ]
    shown["fidelity target"] = shown["fidelity target"].map(yes)
    shown["time target"] = shown["time target"].map(yes)
    shown = shown.drop(columns=["low", "high"])
    order = [
        "dataset",
        "teacher",
        "seeds (ours/EBM)",
        "additive fidelity",
        "EBM fidelity",
        "difference",
        "interval",
        "additive s",
        "EBM s",
        "time ratio",
        "fidelity target",
        "time target",
    ]
    table = markdown_table(
        shown[order],
        {
            "additive fidelity": "{:.4f}",
            "EBM fidelity": "{:.4f}",
            "difference": "{:+.4f}",
            "additive s": "{:.2f}",
            "EBM s": "{:.2f}",
            "time ratio": "{:.3f}",
        },
    )
    lines = [
        "# Additive student (GA2M) vs EBM on the teacher's labels",
        "",
        f"Command: `python -m benchmarks.additive {' '.join(args.argv)}`".rstrip(),
        "",
        f"Machine: {machine_line()}; one thread, one process; wall time {wall / 60:.1f} min.",
        "",
        "Ours: `DistilledClassifier(teacher, AdditiveClassifier())` at library defaults "
        "(temperature search included in the fit time). EBM: "
        "`ExplainableBoostingClassifier(outer_bags=1)` on `teacher.predict(X_train)`. "
        "Fidelity on the held-out 30%. Difference = ours - EBM, paired by seed, mean and "
        "95% t interval (– with one paired seed). Time ratio = median over paired seeds "
        f"of ours / EBM. Targets: difference >= -{FIDELITY_MARGIN}, ratio <= {TIME_RATIO}.",
        "",
        f"EBM ran on {args.ebm_seeds_large} seed(s) of {', '.join(LARGE)} (slow) and on "
        "every seed elsewhere.",
        "",
        *table,
        "",
    ]
    write_csv(cells, out / f"{NAME}.csv")
    write_markdown(lines, out / f"{NAME}.md")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--ebm-seeds-large", type=int, default=1)
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--teachers", nargs="*", default=list(TEACHERS))
    parser.add_argument("--no-ebm", action="store_true")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    args.argv = list(argv) if argv is not None else __import__("sys").argv[1:]
    set_threads(1)
    warnings.filterwarnings("ignore")
    rows: list[dict[str, Any]] = []
    start = time.perf_counter()
    for name in args.datasets:
        for kind in args.teachers:
            for seed in range(args.seeds):
                ebm = not args.no_ebm and (name not in LARGE or seed < args.ebm_seeds_large)
                cell = run_cell(name, kind, seed, ebm)
                rows += cell
                for row in cell:
                    print(
                        f"{name:15s} {kind:20s} seed {seed} {row['model']:22s} "
                        f"fidelity {row['fidelity']:.4f} fit {row['fit_seconds']:.2f}s",
                        flush=True,
                    )
                write_report(pd.DataFrame(rows), args.out, args, time.perf_counter() - start)
    print(summarise(pd.DataFrame(rows)).to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
