"""Teacher-labelled synthetic rows on small data: does ``augment="mixup"`` help the
students where a same-class surrogate is ahead of them?

On the small benchmark sets a flexible student (soft tree, additive model) fits its few
training rows exactly and generalises worse than a surrogate with its own stopping rule
(CART, EBM's early-stopped boosting). The classic remedy in distillation (Bucila et al.
2006) is a larger transfer set: synthetic rows labelled by the teacher. This script
measures, on the same splits and teachers as ``benchmarks/surrogates.py``, each registry
student at defaults, the same with ``DistilledClassifier(augment="mixup",
n_augment=N_AUGMENT)``, and its reference fitted on the teacher's labels of the training
rows (no synthetic rows): ``LogisticRegression``, CART with 16 leaves,
``MLPClassifier((16,))``, and ``ExplainableBoostingClassifier(outer_bags=1)`` for the
additive student (issue 15's reference).

Fidelity is agreement with the teacher's class on the held-out 30%; mean and 95% t
interval over seeds, and the paired difference to the reference; fit seconds are
medians. Everything runs in one process on one thread.

Usage::

    python -m benchmarks.augment_small             # 4 small sets x 2 teachers, 3 seeds
    python -m benchmarks.augment_small --quick     # breast cancer, 1 seed
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

import interpretable_kd as ikd

from . import _common as common
from ._surrogates_data import TEACHERS, load_data
from .surrogates import (
    EBM_ONE_BAG,
    SAME_CLASS,
    make_student,
    make_teacher,
    surrogate_factories,
)

NAME = "augment_small"
DATASETS = ("breast_cancer", "wine", "german_credit", "digits")
#: Synthetic rows added to the transfer set.
N_AUGMENT = 4000


#: Registry student -> the surrogate it is compared with (a name of
#: ``surrogates.surrogate_factories``).
REFERENCE = {**SAME_CLASS, "additive": EBM_ONE_BAG}


def run_cell(name: str, teacher_kind: str, seed: int) -> list[dict[str, Any]]:
    """Every student with and without synthetic rows, and the references, on one split:
    rows of (student, model, fidelity, fit seconds)."""
    data = load_data(name, seed)
    teacher = make_teacher(teacher_kind, data, seed)
    target = teacher.predict(data.X_test)
    labels = teacher.predict(data.X_train)
    factories = surrogate_factories()
    rows = []
    for student, kind in ikd.REGISTRY.items():
        for model, extra in (
            ("default", {}),
            (f"mixup {N_AUGMENT}", {"augment": "mixup", "n_augment": N_AUGMENT}),
        ):
            began = time.perf_counter()
            fitted = ikd.DistilledClassifier(
                teacher, make_student(kind, seed), random_state=seed, **extra
            ).fit(data.X_train)
            seconds = time.perf_counter() - began
            fidelity = float(np.mean(fitted.predict(data.X_test) == target))
            rows.append((student, model, fidelity, seconds))
        began = time.perf_counter()
        reference = factories[REFERENCE[student]](seed).fit(data.X_train, labels)
        seconds = time.perf_counter() - began
        fidelity = float(np.mean(reference.predict(data.X_test) == target))
        rows.append((student, REFERENCE[student], fidelity, seconds))
    return [
        {
            "dataset": name,
            "teacher": teacher_kind,
            "seed": seed,
            "student": st,
            "model": m,
            "fidelity": f,
            "fit_seconds": s,
        }
        for st, m, f, s in rows
    ]


def summarise(cells: pd.DataFrame) -> pd.DataFrame:
    """Per data set, teacher, student and model: mean fidelity with its interval, the
    paired difference to the student's reference, and the median fit time."""
    out = []
    keys = ["dataset", "teacher", "student", "model"]
    for (name, teacher, student, model), group in cells.groupby(keys, sort=False):
        same = (cells.dataset == name) & (cells.teacher == teacher) & (cells.student == student)
        reference = cells[same & (cells.model == REFERENCE[student])].set_index("seed")
        mean, low, high = common.mean_ci(group["fidelity"].tolist())
        diff = (group.set_index("seed")["fidelity"] - reference["fidelity"]).tolist()
        d_mean, d_low, d_high = common.mean_ci(diff)
        out.append(
            {
                "data set": name,
                "teacher": teacher,
                "student": student,
                "model": model,
                "fidelity": mean,
                "low": low,
                "high": high,
                "minus reference": d_mean,
                "diff low": d_low,
                "diff high": d_high,
                "fit s (median)": statistics.median(group["fit_seconds"]),
            }
        )
    return pd.DataFrame(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="breast cancer, 1 seed")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    common.set_threads(1)
    warnings.filterwarnings("ignore", category=UserWarning)
    datasets = ("breast_cancer",) if args.quick else DATASETS
    seeds = 1 if args.quick else args.seeds
    began = time.perf_counter()
    cells = pd.DataFrame(
        [
            row
            for name in datasets
            for teacher in TEACHERS
            for seed in range(seeds)
            for row in run_cell(name, teacher, seed)
        ]
    )
    table = summarise(cells)
    stem = common.stem(NAME, args.quick)
    common.write_csv(cells, common.OUT_DIR / f"{stem}_cells.csv")
    minutes = (time.perf_counter() - began) / 60
    lines = [
        "# Teacher-labelled synthetic rows on small data",
        "",
        f"Written by `benchmarks/augment_small.py` (its docstring: the protocol). "
        f"{common.machine_line()} {common.SHARED_MACHINE_NOTE} Run time {minutes:.1f} min.",
        "",
        f"Fidelity on the held-out 30%, mean and 95% t interval over {seeds} seed(s); "
        "`minus reference`: the paired difference to the student's same-class reference "
        "(EBM with 1 bag for the additive student), with its interval.",
        "",
        *common.markdown_table(
            table,
            {
                "fidelity": "{:.3f}",
                "low": "{:.3f}",
                "high": "{:.3f}",
                "minus reference": "{:+.3f}",
                "diff low": "{:+.3f}",
                "diff high": "{:+.3f}",
                "fit s (median)": "{:.2f}",
            },
        ),
    ]
    path = common.write_markdown(lines, common.OUT_DIR / f"{stem}.md")
    print(f"[{NAME}] wrote {common.relative(path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
