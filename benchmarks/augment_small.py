"""Teacher-labelled synthetic rows on small data: does ``augment="mixup"`` help the
additive student where EBM is ahead of it?

On the small benchmark sets the additive student fits its few training rows exactly and
generalises worse than EBM's early-stopped boosting. The classic remedy in distillation
(Bucila et al. 2006) is a larger transfer set: synthetic rows labelled by the teacher.
This script measures, on the same splits and teachers as ``benchmarks/surrogates.py``:

- the additive student at defaults;
- the same with ``DistilledClassifier(augment="mixup", n_augment=N_AUGMENT)``;
- ``ExplainableBoostingClassifier(outer_bags=1)`` on the teacher's labels of the training
  rows (the reference of issue 15).

Fidelity is agreement with the teacher's class on the held-out 30%; mean and 95% t
interval over seeds; fit seconds are medians. Everything runs in one process on one
thread.

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
from .surrogates import make_teacher

NAME = "augment_small"
DATASETS = ("breast_cancer", "wine", "german_credit", "digits")
#: Synthetic rows added to the transfer set.
N_AUGMENT = 4000


def run_cell(name: str, teacher_kind: str, seed: int) -> list[dict[str, Any]]:
    """The three models on one split: rows of (model, fidelity, fit seconds)."""
    from interpret.glassbox import ExplainableBoostingClassifier

    data = load_data(name, seed)
    teacher = make_teacher(teacher_kind, data, seed)
    target = teacher.predict(data.X_test)
    rows = []
    settings: dict[str, dict[str, Any]] = {
        "additive": {},
        f"additive + mixup {N_AUGMENT}": {"augment": "mixup", "n_augment": N_AUGMENT},
    }
    for model, extra in settings.items():
        began = time.perf_counter()
        fitted = ikd.DistilledClassifier(
            teacher, ikd.AdditiveClassifier(random_state=seed), random_state=seed, **extra
        ).fit(data.X_train)
        seconds = time.perf_counter() - began
        rows.append((model, float(np.mean(fitted.predict(data.X_test) == target)), seconds))
    began = time.perf_counter()
    labels = teacher.predict(data.X_train)
    ebm = ExplainableBoostingClassifier(outer_bags=1, n_jobs=1, random_state=seed)
    ebm.fit(data.X_train, labels)
    seconds = time.perf_counter() - began
    rows.append(("EBM (1 bag)", float(np.mean(ebm.predict(data.X_test) == target)), seconds))
    return [
        {
            "dataset": name,
            "teacher": teacher_kind,
            "seed": seed,
            "model": m,
            "fidelity": f,
            "fit_seconds": s,
        }
        for m, f, s in rows
    ]


def summarise(cells: pd.DataFrame) -> pd.DataFrame:
    """Per data set, teacher and model: mean fidelity with its interval, the paired
    difference to EBM (1 bag), and the median fit time."""
    out = []
    for (name, teacher, model), group in cells.groupby(["dataset", "teacher", "model"], sort=False):
        ebm = cells[
            (cells.dataset == name) & (cells.teacher == teacher) & (cells.model == "EBM (1 bag)")
        ].set_index("seed")["fidelity"]
        mean, low, high = common.mean_ci(group["fidelity"].tolist())
        diff = (group.set_index("seed")["fidelity"] - ebm).tolist()
        d_mean, d_low, d_high = common.mean_ci(diff)
        out.append(
            {
                "data set": name,
                "teacher": teacher,
                "model": model,
                "fidelity": mean,
                "low": low,
                "high": high,
                "minus EBM": d_mean,
                "minus EBM low": d_low,
                "minus EBM high": d_high,
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
        "# Teacher-labelled synthetic rows on small data (additive student)",
        "",
        f"Written by `benchmarks/augment_small.py` (its docstring: the protocol). "
        f"{common.machine_line()} {common.SHARED_MACHINE_NOTE} Run time {minutes:.1f} min.",
        "",
        f"Fidelity on the held-out 30%, mean [95% t interval] over {seeds} seed(s); "
        "`minus EBM`: paired by seed.",
        "",
        *common.markdown_table(
            table,
            {
                "fidelity": "{:.3f}",
                "low": "{:.3f}",
                "high": "{:.3f}",
                "minus EBM": "{:+.3f}",
                "minus EBM low": "{:+.3f}",
                "minus EBM high": "{:+.3f}",
                "fit s (median)": "{:.2f}",
            },
        ),
    ]
    path = common.write_markdown(lines, common.OUT_DIR / f"{stem}.md")
    print(f"[{NAME}] wrote {common.relative(path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
