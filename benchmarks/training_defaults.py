"""Training defaults: the old fixed sizes against ``"auto"`` (issue 11, item 5).

On breast cancer and adult (``load_dataset`` + ``split_dataset``, preprocessed, seed 0),
an ``MLPTeacher`` is fitted at the old defaults (``batch_size=128``, ``max_epochs=200``,
``n_iter_no_change=10``, constant learning rate) and at the new ones (``"auto"``: batch
and epoch budget from the row count, cosine schedule, patience a quarter of the budget).
Each student kind (the MLP student, the logistic student and a depth-4 soft tree) is
then distilled from the new-default teacher with ``fit_distill`` at T = 1 and no hard
labels, once with the old sizes and once with ``"auto"``. Reported: fit seconds, test
accuracy (teacher) and test fidelity (students, agreement with the teacher's decisions),
for ``--seeds`` seeds (mean). All fits in one process, one torch thread (``n_jobs=1``).

    python -m benchmarks.training_defaults              # 3 seeds
    python -m benchmarks.training_defaults --quick      # 1 seed

Writes ``training_defaults.csv`` and ``training_defaults.md`` (``_quick``) into
``reports/benchmarks/``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import _common as common

NAME = "training_defaults"
DATASETS = ("breast_cancer", "adult")
OLD = {"batch_size": 128, "max_epochs": 200, "n_iter_no_change": 10}
NEW = {"batch_size": "auto", "max_epochs": "auto", "n_iter_no_change": "auto"}


def _students(sizes: dict[str, Any], seed: int) -> dict[str, Any]:
    from interpretable_kd.students import (
        ShallowMLPClassifier,
        SoftDecisionTreeClassifier,
        SoftLogisticRegression,
    )

    models = {
        "mlp_student": ShallowMLPClassifier(random_state=seed, **sizes),
        "logistic": SoftLogisticRegression(random_state=seed, **sizes),
        "soft_tree_depth4": SoftDecisionTreeClassifier(depth=4, random_state=seed, **sizes),
    }
    for model in models.values():
        model.n_jobs = 1
    return models


def measure(seeds: Sequence[int]) -> pd.DataFrame:
    """One row per (data set, seed, model, defaults).

    Parameters
    ----------
    seeds : sequence of int
        Seeds of the fits (the split is always seed 0).

    Returns
    -------
    DataFrame
        Columns ``data``, ``seed``, ``model``, ``defaults``, ``seconds``, ``score``
        (teacher: test accuracy; students: test fidelity), ``epochs``, ``batch_size``.
    """
    from interpretable_kd import MLPTeacher
    from interpretable_kd.datasets import split_dataset

    rows = []
    warm = split_dataset("breast_cancer", random_state=0)  # torch's one-off first-step cost
    MLPTeacher(max_epochs=1, n_jobs=1).fit(warm.X_train.to_numpy(np.float32), warm.y_train)
    for data in DATASETS:
        split = split_dataset(data, random_state=0)
        X_train = split.X_train.to_numpy(np.float32)
        X_test = split.X_test.to_numpy(np.float32)
        for seed in seeds:
            teacher = None
            for label, sizes in (("old", OLD), ("auto", NEW)):
                model = MLPTeacher(random_state=seed, n_jobs=1, **sizes)
                with common.Stopwatch() as sw:
                    model.fit(X_train, split.y_train)
                score = float(np.mean(model.predict(X_test) == split.y_test))
                rows.append(_row(data, seed, "mlp_teacher", label, sw.seconds, score, model))
                teacher = model
            assert teacher is not None
            logits = teacher.logits(X_train)
            decided = teacher.predict(X_test)
            for label, sizes in (("old", OLD), ("auto", NEW)):
                for name, student in _students(sizes, seed).items():
                    with common.Stopwatch() as sw:
                        student.fit_distill(
                            X_train, logits, classes=teacher.classes_, temperature=1.0
                        )
                    score = float(np.mean(student.predict(X_test) == decided))
                    rows.append(_row(data, seed, name, label, sw.seconds, score, student))
                    print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def _row(
    data: str, seed: int, model: str, label: str, seconds: float, score: float, est: Any
) -> dict[str, Any]:
    return {
        "data": data,
        "seed": seed,
        "model": model,
        "defaults": label,
        "seconds": seconds,
        "score": score,
        "epochs": int(getattr(est, "n_iter_", -1)),
        "batch_size": int(getattr(est, "batch_size_", -1)),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one seed")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    seeds = [0] if args.quick else list(range(args.seeds))
    frame = measure(seeds)
    mean = frame.groupby(["data", "model", "defaults"], sort=False)[
        ["seconds", "score", "epochs"]
    ].mean()
    wide = mean.unstack("defaults")
    table = pd.DataFrame(
        {
            "score old": wide[("score", "old")],
            "score auto": wide[("score", "auto")],
            "score auto - old": wide[("score", "auto")] - wide[("score", "old")],
            "seconds old": wide[("seconds", "old")],
            "seconds auto": wide[("seconds", "auto")],
            "time ratio auto/old": wide[("seconds", "auto")] / wide[("seconds", "old")],
            "epochs old": wide[("epochs", "old")],
            "epochs auto": wide[("epochs", "auto")],
        }
    ).reset_index()
    out = common.OUT_DIR
    out.mkdir(parents=True, exist_ok=True)
    stem = common.stem(NAME, args.quick)
    common.write_csv(frame, out / f"{stem}.csv")
    lines = [
        "# Training defaults: old fixed sizes vs auto",
        "",
        f"Seeds {seeds}; score = test accuracy (teacher) or test fidelity (students); "
        "one torch thread. " + common.SHARED_MACHINE_NOTE,
        "",
        *common.markdown_table(table.round(4)),
        "",
        common.machine_line(),
    ]
    common.write_markdown(lines, out / f"{stem}.md")
    print(table.round(4).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
