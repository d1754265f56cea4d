"""Fit time of the distilled logistic student against scikit-learn's LogisticRegression.

Issue 11, item 3: the logistic student is solved exactly (full-batch L-BFGS), and its fit
time on 21,000 rows must be within 2x of ``LogisticRegression(max_iter=3000)`` on the same
rows. Two data sets:

- ``make_classification``: 30,000 rows x 30 columns (10 informative, 10 redundant, seed
  0); the first 21,000 rows train, the other 9,000 test.
- ``adult``: :func:`~interpretable_kd.datasets.split_dataset` (stratified 70/30, seed 0,
  the library's preprocessing: 107 standardised and one-hot columns); the first 21,000
  training rows train, the whole test part tests.

The teacher is scikit-learn's ``HistGradientBoostingClassifier`` (seed 0) fitted on the
true labels of the 21,000 rows and wrapped with ``as_teacher``. Timed, in one process,
alternately, ``--repeats`` times each (median reported), both on one thread:

- student: ``SoftLogisticRegression(n_jobs=1).fit_distill(X, teacher_logits, T=1)`` at
  library defaults (the teacher's logits are computed once, outside the timing);
- reference: ``LogisticRegression(max_iter=3000).fit(X, teacher.predict(X))`` (the
  "global surrogate" a user would write).

Fidelity is agreement with the teacher's decisions on the test rows. The Adam loop that
the student used before (``solver="adam"``, defaults otherwise) is timed once for
context.

    python -m benchmarks.logistic_speed [--quick] [--repeats 5]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

import interpretable_kd as ikd
from interpretable_kd.datasets import split_dataset

from ._common import (
    OUT_DIR,
    Stopwatch,
    machine_line,
    markdown_table,
    set_threads,
    stem,
    write_csv,
    write_markdown,
)

TRAIN_ROWS = 21_000
TARGET_RATIO = 2.0


def _synthetic(n_train: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n_test = max(n_train * 3 // 7, 100)
    X, y = make_classification(
        n_samples=n_train + n_test,
        n_features=30,
        n_informative=10,
        n_redundant=10,
        random_state=0,
    )
    X = X.astype(np.float32)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def _adult(n_train: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    split = split_dataset("adult", random_state=0)
    X_train = split.X_train.to_numpy(dtype=np.float32)[:n_train]
    return X_train, split.y_train[:n_train], split.X_test.to_numpy(np.float32), split.y_test


def _timed(function: Callable[[], Any]) -> tuple[float, Any]:
    with Stopwatch() as watch:
        result = function()
    return watch.seconds, result


def _one_data_set(name: str, data: tuple[np.ndarray, ...], repeats: int) -> dict[str, Any]:
    X, y, X_test, _ = data
    teacher_model = HistGradientBoostingClassifier(random_state=0).fit(X, y)
    teacher = ikd.as_teacher(teacher_model)
    logits = teacher.logits(X)
    teacher_labels = teacher.predict(X)
    teacher_test = teacher.predict(X_test)
    classes = teacher.classes_

    def student() -> Any:
        model = ikd.SoftLogisticRegression(random_state=0, n_jobs=1)
        return model.fit_distill(X, logits, classes=classes, temperature=1.0)

    def reference() -> Any:
        return LogisticRegression(max_iter=3000).fit(X, teacher_labels)

    student()  # warm-up: first-call costs of torch, not of the solver
    student_times, reference_times = [], []
    fitted_student = fitted_reference = None
    for _ in range(repeats):
        seconds, fitted_student = _timed(student)
        student_times.append(seconds)
        seconds, fitted_reference = _timed(reference)
        reference_times.append(seconds)
    adam_seconds, adam = _timed(
        lambda: ikd.SoftLogisticRegression(solver="adam", random_state=0, n_jobs=1).fit_distill(
            X, logits, classes=classes, temperature=1.0
        )
    )
    assert fitted_student is not None
    assert fitted_reference is not None
    student_s, reference_s = float(np.median(student_times)), float(np.median(reference_times))
    return {
        "data": name,
        "rows x columns": f"{X.shape[0]} x {X.shape[1]}",
        "student_s": student_s,
        "sklearn_s": reference_s,
        "ratio": student_s / reference_s,
        "student_fidelity": float(np.mean(fitted_student.predict(X_test) == teacher_test)),
        "sklearn_fidelity": float(np.mean(fitted_reference.predict(X_test) == teacher_test)),
        "student_solver": fitted_student.solver_,
        "student_iterations": int(fitted_student.n_iter_),
        "sklearn_iterations": int(np.max(fitted_reference.n_iter_)),
        "adam_s": adam_seconds,
        "adam_fidelity": float(np.mean(adam.predict(X_test) == teacher_test)),
        "student_times": " ".join(f"{t:.3f}" for t in student_times),
        "sklearn_times": " ".join(f"{t:.3f}" for t in reference_times),
    }


def _markdown(frame: pd.DataFrame, repeats: int, quick: bool) -> list[str]:
    verdict = [
        f"- {row['data']}: ratio {row['ratio']:.2f} "
        + ("<= " if row["ratio"] <= TARGET_RATIO else "> ")
        + f"{TARGET_RATIO:g} ({'meets' if row['ratio'] <= TARGET_RATIO else 'misses'} the "
        "target); fidelity "
        f"{row['student_fidelity']:.4f} (student) vs {row['sklearn_fidelity']:.4f} (sklearn)."
        for _, row in frame.iterrows()
    ]
    shown = frame[
        [
            "data",
            "rows x columns",
            "student_s",
            "sklearn_s",
            "ratio",
            "student_fidelity",
            "sklearn_fidelity",
            "student_iterations",
            "sklearn_iterations",
            "adam_s",
            "adam_fidelity",
        ]
    ]
    return [
        "# Logistic student: fit time against scikit-learn" + (" (quick)" if quick else ""),
        "",
        "Distilled `SoftLogisticRegression` (library defaults: exact full-batch L-BFGS, "
        "`fit_distill` on the teacher's logits at T = 1) against "
        "`LogisticRegression(max_iter=3000)` fitted on the teacher's labels, on the same "
        f"rows, in one process, one thread each; median of {repeats} alternating runs. "
        "Teacher: `HistGradientBoostingClassifier(random_state=0)`. Fidelity: agreement "
        "with the teacher's decisions on the test rows. `adam_s`: the mini-batch Adam loop "
        "(`solver='adam'`, one run) for context. Target: ratio <= 2.",
        "",
        *markdown_table(
            shown,
            {
                "student_s": "{:.3f}",
                "sklearn_s": "{:.3f}",
                "ratio": "{:.2f}",
                "student_fidelity": "{:.4f}",
                "sklearn_fidelity": "{:.4f}",
                "adam_s": "{:.2f}",
                "adam_fidelity": "{:.4f}",
            },
        ),
        "",
        *verdict,
        "",
        "Every timing (seconds): "
        + "; ".join(
            f"{row['data']}: student {row['student_times']}, sklearn {row['sklearn_times']}"
            for _, row in frame.iterrows()
        )
        + ".",
        "",
        "Reproduce: `OMP_NUM_THREADS=1 python -m benchmarks.logistic_speed`.",
        "",
        machine_line(),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.logistic_speed")
    parser.add_argument("--quick", action="store_true", help="3,000 rows, 1 repeat")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    n_train = 3_000 if args.quick else TRAIN_ROWS
    repeats = 1 if args.quick else args.repeats
    set_threads(1)
    rows = []
    with threadpool_limits(limits=1):
        for name, loader in (("make_classification", _synthetic), ("adult", _adult)):
            rows.append(_one_data_set(name, loader(n_train), repeats))
            print(
                f"{name}: student {rows[-1]['student_s']:.3f} s, sklearn "
                f"{rows[-1]['sklearn_s']:.3f} s, ratio {rows[-1]['ratio']:.2f}; fidelity "
                f"{rows[-1]['student_fidelity']:.4f} vs {rows[-1]['sklearn_fidelity']:.4f}",
                flush=True,
            )
    frame = pd.DataFrame(rows)
    name = stem("logistic_speed", args.quick)
    write_csv(frame, OUT_DIR / f"{name}.csv")
    path = write_markdown(_markdown(frame, repeats, args.quick), OUT_DIR / f"{name}.md")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
