"""What ``temperature="auto"`` costs and what it gains, against a fixed T = 1.

For each data set (``split_dataset(name, random_state=0)``), each teacher (``MLPTeacher``
at its defaults, and scikit-learn's ``HistGradientBoostingClassifier`` wrapped with
``as_teacher``) and each registry student at its defaults, fit
``DistilledClassifier(teacher, student, random_state=0)`` twice, with
``temperature="auto"`` and with ``temperature=1.0``, and record the test fidelity of
each, the wall time of each fit, their ratio (the search's cost in fits at T = 1) and
the chosen T with its search table. One seed, one thread.

Run: ``OMP_NUM_THREADS=1 python -m benchmarks.temperature_search [--quick]
[--datasets breast_cancer,adult]``; writes ``reports/benchmarks/temperature_search.csv``
and ``.md`` (``_quick`` suffix for a quick run: COMPAS only). ``search_seconds``: the
candidates' fits and their shared start (``temperature_search_.attrs["start_seconds"]``).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from interpretable_kd import DistilledClassifier, MLPTeacher, as_teacher
from interpretable_kd.datasets import load_dataset, split_dataset

from ._common import (
    OUT_DIR,
    machine_line,
    markdown_table,
    set_threads,
    stem,
    write_csv,
    write_markdown,
)
from ._students import STUDENTS, make_student

DATASETS = ("breast_cancer", "german_credit", "compas", "adult")
#: Quick: COMPAS, the smallest set above the search's threshold (breast cancer and German
#: credit have under 500 validation rows, so "auto" keeps T = 1 there without a search).
QUICK_DATASETS = ("compas",)


def _teachers(X: Any, y: Any) -> dict[str, Any]:
    """Both teacher kinds, fitted on the training rows."""
    mlp = MLPTeacher(random_state=0).fit(X, y)
    boosting = as_teacher(HistGradientBoostingClassifier(random_state=0).fit(X, y))
    return {"MLPTeacher": mlp, "HistGradientBoosting": boosting}


def _fit(teacher: Any, student: str, temperature: float | str, X: Any) -> tuple[Any, float]:
    model = DistilledClassifier(
        teacher, make_student(student), temperature=temperature, random_state=0
    )
    start = time.perf_counter()
    model.fit(X)
    return model, time.perf_counter() - start


def run(datasets: tuple[str, ...]) -> tuple[pd.DataFrame, list[str]]:
    """Every (data set, teacher, student) row, and the search tables as markdown."""
    rows, tables = [], []
    for name in datasets:
        split = split_dataset(load_dataset(name), random_state=0)
        X_train, X_test = split.X_train, split.X_test
        for teacher_name, teacher in _teachers(X_train, split.y_train).items():
            teacher_test = np.asarray(teacher.predict(X_test))
            for student in STUDENTS:
                auto, auto_s = _fit(teacher, student, "auto", X_train)
                fixed, fixed_s = _fit(teacher, student, 1.0, X_train)
                fid_auto = float(np.mean(auto.predict(X_test) == teacher_test))
                fid_fixed = float(np.mean(fixed.predict(X_test) == teacher_test))
                rows.append(
                    {
                        "dataset": name,
                        "teacher": teacher_name,
                        "student": student,
                        "n_train": len(X_train),
                        "chosen_T": auto.temperature_,
                        "fidelity_auto": fid_auto,
                        "fidelity_T1": fid_fixed,
                        "gain": fid_auto - fid_fixed,
                        "seconds_auto": auto_s,
                        "seconds_T1": fixed_s,
                        "cost_ratio": auto_s / fixed_s,
                        "search_seconds": float(
                            auto.temperature_search_["fit_seconds"].sum()
                            + auto.temperature_search_.attrs.get("start_seconds", 0.0)
                        ),
                    }
                )
                print(
                    f"{name:14s} {teacher_name:20s} {student:20s} T={auto.temperature_:<5g} "
                    f"auto {fid_auto:.4f} ({auto_s:6.1f}s)  T=1 {fid_fixed:.4f} "
                    f"({fixed_s:6.1f}s)  x{auto_s / fixed_s:.1f}",
                    flush=True,
                )
                search = auto.temperature_search_.copy()
                tables += [f"### {name}, {teacher_name}, {student}", ""]
                tables += markdown_table(
                    search,
                    {
                        "temperature": "{:g}",
                        "step_scale": "{:.3f}",
                        "validation_fidelity": "{:.4f}",
                        "validation_kl": "{:.4f}",
                        "fit_seconds": "{:.2f}",
                    },
                )
                tables.append("")
    return pd.DataFrame(rows), tables


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write its CSV and markdown files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="COMPAS only")
    parser.add_argument("--datasets", default=None, help="comma-separated data set names")
    args = parser.parse_args(argv)
    set_threads(1)
    if args.datasets:
        datasets = tuple(args.datasets.split(","))
    else:
        datasets = QUICK_DATASETS if args.quick else DATASETS
    start = time.perf_counter()
    frame, tables = run(datasets)
    total = time.perf_counter() - start
    out = stem("temperature_search", args.quick or args.datasets is not None)
    write_csv(frame, OUT_DIR / f"{out}.csv")
    summary = frame.groupby("student")[["gain", "cost_ratio"]].agg(["mean", "min", "max"])
    summary.columns = [f"{a}_{b}" for a, b in summary.columns]
    lines = [
        '# temperature="auto" against T = 1',
        "",
        f"{machine_line()} Here each timing is a single run. Total {total:.0f} s.",
        "",
        "Test fidelity (share of test rows where the student predicts the teacher's class) "
        "of `DistilledClassifier(teacher, student, random_state=0)` with "
        '`temperature="auto"` and with `temperature=1.0`; `cost_ratio` = wall time of the '
        "auto fit (search plus refit) / wall time of the fit at T = 1. One seed: a gain "
        "of one or two test rows is noise.",
        "",
        *markdown_table(
            frame,
            {
                "chosen_T": "{:g}",
                "fidelity_auto": "{:.4f}",
                "fidelity_T1": "{:.4f}",
                "gain": "{:+.4f}",
                "seconds_auto": "{:.1f}",
                "seconds_T1": "{:.1f}",
                "cost_ratio": "{:.1f}",
                "search_seconds": "{:.1f}",
            },
        ),
        "",
        "## By student",
        "",
        *markdown_table(summary.reset_index(), {c: "{:.3f}" for c in summary.columns}),
        "",
        "## Search tables",
        "",
        *tables,
    ]
    write_markdown(lines, OUT_DIR / f"{out}.md")
    print(frame.to_string())


if __name__ == "__main__":
    main()
