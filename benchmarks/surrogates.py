"""Like with like: each distilled student, at library defaults, against the same-class
surrogate fitted on the teacher's labels of the same training rows.

For each data set (breast_cancer, wine, digits, german_credit, compas, adult, and
``make_classification`` with 100,000 rows; the splits of :mod:`benchmarks.fidelity`), each
teacher kind and each seed:

- the teacher, at library / scikit-learn defaults: ``ikd.MLPTeacher()``, or
  ``HistGradientBoostingClassifier()`` wrapped with ``ikd.as_teacher`` (what auditors most
  often face), fitted on the standardised training rows;
- every registry student distilled as a user would write it, with no tuning:
  ``ikd.DistilledClassifier(teacher, kind.make(random_state=seed),
  random_state=seed).fit(X_train)``;
- its same-class surrogate, fitted on ``teacher.predict(X_train)``: logistic regression vs
  ``LogisticRegression(max_iter=3000)``; soft tree (depth 4) vs
  ``DecisionTreeClassifier(max_leaf_nodes=16)``; shallow MLP vs
  ``MLPClassifier(hidden_layer_sizes=(16,))``; additive model vs InterpretML's
  ``ExplainableBoostingClassifier()`` at its defaults (capped: fewer seeds, small data sets
  only); and ``ExplainableBoostingClassifier(outer_bags=1)`` for every student;
- the raw-columns check: every student distilled again on the same rows with the numeric
  columns in their own units (not standardised), from the same teacher (it standardises
  the rows it is given, so the teacher's function is unchanged); for the ``MLPTeacher`` a
  second teacher trained on the raw columns, to show that it learns on them.

Measured on the held-out rows: fidelity (share of rows where the model predicts the
teacher's class), accuracy, fit seconds, the temperature ``temperature="auto"`` chose.
Means, paired differences and 95% t intervals over seeds; pass/fail against the targets of
issue 11 (``benchmarks/_surrogates_report.py``).

Every finished cell (data set x teacher x seed x model x columns) is appended at once to
``surrogates_cells.csv``; ``--resume`` skips the cells already there, so an interrupted run
loses at most the cells in flight.

    python -m benchmarks.surrogates                 # 7 data sets x 2 teachers, 5 seeds
    python -m benchmarks.surrogates --resume        # continue an interrupted run
    python -m benchmarks.surrogates --quick         # 2 small data sets, 1 seed (about 2 min idle)
    python -m benchmarks.surrogates --from-csv      # rewrite the report only

Writes ``surrogates_cells.csv`` (one row per cell and seed), ``surrogates.csv`` (one row
per data set x teacher x student) and ``surrogates.md`` into ``reports/benchmarks/``
(``surrogates_quick*`` with ``--quick``).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.tree import DecisionTreeClassifier

import interpretable_kd as ikd

from . import _common as common
from . import _students as student_kinds
from . import fidelity
from ._surrogates_data import (
    DATASETS,
    EBM_DEFAULT,
    EBM_DEFAULT_SEEDS,
    EBM_MAX_ROWS,
    EBM_ONE_BAG,
    LARGE,
    LARGE_SEEDS,
    NAME,
    QUICK_DATASETS,
    SEEDS,
    TEACHERS,
    Data,
    append_rows,
    finished_cells,
    load_data,
)

# --------------------------------------------------------------------------- models
#: Hidden units of the registry's shallow MLP: the width of its scikit-learn surrogate.
MLP_WIDTH = int(ikd.REGISTRY["mlp"].make().get_params().get("hidden_units", 16))


def _accepts(estimator: Any, name: str) -> bool:
    return name in estimator.get_params()


def make_teacher(kind: str, data: Data, seed: int, raw: bool = False) -> Any:
    """A fitted teacher of ``kind`` at library / scikit-learn defaults (``random_state``
    set; one thread where the estimator has an ``n_jobs``)."""
    X = data.R_train if raw else data.X_train
    if kind == "MLPTeacher":
        teacher = ikd.MLPTeacher(random_state=seed)
        if _accepts(teacher, "n_jobs"):
            teacher.set_params(n_jobs=1)
        return teacher.fit(X, data.y_train)
    if kind == "HistGradientBoosting":
        model = HistGradientBoostingClassifier(random_state=seed).fit(X, data.y_train)
        return ikd.as_teacher(model)
    raise ValueError(f"unknown teacher kind {kind!r}; choose from {', '.join(TEACHERS)}")


def raw_columns_teacher(teacher: Any, data: Data) -> Any:
    """The same teacher function, called on raw columns: it standardises them first."""
    scale, shift = data.scale, data.shift

    def proba(X: Any) -> np.ndarray:
        rows = (np.asarray(X, dtype=np.float64) * scale + shift).astype(np.float32)
        return np.asarray(teacher.predict_proba(rows))

    return ikd.as_teacher(proba, output="proba", classes=list(teacher.classes_))


def make_student(kind: Any, seed: int) -> Any:
    """``kind.make()`` at the registry's defaults, seeded, on one thread (the benchmark
    runs one process per core)."""
    student = kind.make(random_state=seed)
    if _accepts(student, "n_jobs"):
        student.set_params(n_jobs=1)
    return student


def surrogate_factories() -> dict[str, Callable[[int], Any]]:
    """Surrogate name -> ``factory(seed)``: the same-class surrogate of each registry
    student (see :data:`SAME_CLASS`) and the EBMs."""
    from interpret.glassbox import ExplainableBoostingClassifier

    return {
        "sklearn logistic": lambda seed: LogisticRegression(max_iter=3000),
        f"CART ({2**student_kinds.TREE_DEPTH} leaves)": lambda seed: DecisionTreeClassifier(
            max_leaf_nodes=2**student_kinds.TREE_DEPTH, random_state=seed
        ),
        f"sklearn MLP ({MLP_WIDTH})": lambda seed: MLPClassifier(
            hidden_layer_sizes=(MLP_WIDTH,), random_state=seed
        ),
        EBM_ONE_BAG: lambda seed: ExplainableBoostingClassifier(
            outer_bags=1, n_jobs=1, random_state=seed
        ),
        EBM_DEFAULT: lambda seed: ExplainableBoostingClassifier(n_jobs=1, random_state=seed),
    }


#: Registry name of a student -> the name of its same-class surrogate.
SAME_CLASS = {
    "logistic": "sklearn logistic",
    "tree": f"CART ({2**student_kinds.TREE_DEPTH} leaves)",
    "mlp": f"sklearn MLP ({MLP_WIDTH})",
    "additive": EBM_DEFAULT,
}


@dataclass(frozen=True)
class Task:
    dataset: str
    seed: int
    teacher: str
    students: tuple[str, ...]  # registry names
    ebm_one_bag: bool
    ebm_default: bool
    raw: bool
    cells_path: Path
    done: frozenset[tuple[str, ...]]


def run_task(task: Task) -> list[str]:
    """Every cell of one data set x seed x teacher not yet in the cells CSV; returns log
    lines. Each cell is appended to the CSV as soon as it is measured."""
    start = time.perf_counter()
    lines: list[str] = []
    todo = cell_names(task)
    key = (task.dataset, task.teacher, str(task.seed))
    todo = [(m, c) for m, c in todo if (*key, m, c) not in task.done]
    if not todo:
        return [f"  {task.dataset} / {task.teacher} / seed {task.seed}: already done"]
    data = load_data(task.dataset, task.seed)
    with common.Stopwatch() as sw:
        teacher = make_teacher(task.teacher, data, task.seed)
    classes = np.asarray(teacher.classes_)
    with common.Stopwatch() as label_sw:
        labels = classes[np.asarray(teacher.predict_proba(data.X_train)).argmax(axis=1)]
    target = classes[np.asarray(teacher.predict_proba(data.X_test)).argmax(axis=1)]
    base = {
        "dataset": task.dataset,
        "teacher": task.teacher,
        "seed": task.seed,
        "n_train": data.X_train.shape[0],
        "n_test": data.X_test.shape[0],
        "n_features": data.X_train.shape[1],
        "n_classes": len(classes),
        "teacher_accuracy": float(np.mean(target == data.y_test)),
        "teacher_fit_seconds": sw.seconds,
        "label_seconds": label_sw.seconds,
    }

    def measure(model: Any, X_test: np.ndarray) -> dict[str, float]:
        pred = np.asarray(model.predict(X_test))
        return {
            "fidelity": float(np.mean(pred == target)),
            "accuracy": float(np.mean(pred == data.y_test)),
        }

    factories = surrogate_factories()
    raw_teacher = raw_columns_teacher(teacher, data) if task.raw else None
    for model_name, columns in todo:
        row: dict[str, Any] = {**base, "model": model_name, "columns": columns}
        if model_name in factories:
            X_fit, y_fit = data.X_train, labels
            # EBM (1 bag) fits on every row, as the student does; EBM at its defaults (14
            # bags, hours on one core at 70,000 rows) on a sample
            if model_name == EBM_DEFAULT and X_fit.shape[0] > EBM_MAX_ROWS:
                rng = np.random.default_rng(task.seed)
                rows = np.sort(rng.choice(X_fit.shape[0], EBM_MAX_ROWS, replace=False))
                X_fit, y_fit = X_fit[rows], y_fit[rows]
            model = factories[model_name](task.seed)
            with common.Stopwatch() as fit_sw:
                model.fit(X_fit, y_fit)
            row.update(family="surrogate", fit_rows=X_fit.shape[0], **measure(model, data.X_test))
        elif model_name == "MLPTeacher (raw columns)":
            with common.Stopwatch() as fit_sw:
                model = make_teacher(task.teacher, data, task.seed, raw=True)
            row.update(family="teacher", fit_rows=data.R_train.shape[0])
            row.update(measure(model, data.R_test))
        else:
            kind = ikd.REGISTRY[model_name]
            use_raw = columns == "raw"
            X_fit = pd.DataFrame(data.R_train if use_raw else data.X_train, columns=data.names)
            X_eval = pd.DataFrame(data.R_test if use_raw else data.X_test, columns=data.names)
            distiller = ikd.DistilledClassifier(
                raw_teacher if use_raw else teacher,
                make_student(kind, task.seed),
                random_state=task.seed,
            )
            with common.Stopwatch() as fit_sw:
                model = distiller.fit(X_fit)
            student = model.student_
            epochs = getattr(student, "n_iter_", math.nan)
            row.update(
                family="student",
                student=kind.label,
                fit_rows=X_fit.shape[0],
                temperature=_number(getattr(model, "temperature_", model.temperature)),
                epochs=_number(epochs),
                **measure(model, X_eval),
            )
            if use_raw and raw_teacher is not None:
                again = classes[np.asarray(raw_teacher.predict_proba(data.R_test)).argmax(axis=1)]
                row["teacher_agreement"] = float(np.mean(again == target))
        row["fit_seconds"] = fit_sw.seconds
        append_rows(task.cells_path, [row])
        lines.append(
            f"    {task.dataset} / {task.teacher} / seed {task.seed} / {model_name} "
            f"({columns}): fidelity {row['fidelity']:.4f}, {fit_sw.seconds:.1f} s"
        )
    lines.append(
        f"  {task.dataset} / {task.teacher} / seed {task.seed}: {len(todo)} cells in "
        f"{time.perf_counter() - start:.0f} s"
    )
    return lines


def cell_names(task: Task) -> list[tuple[str, str]]:
    """(model, columns) of every cell of a task, in the order they are run."""
    cells = [
        (SAME_CLASS[s], "standardised")
        for s in task.students
        if s in SAME_CLASS and SAME_CLASS[s] != EBM_DEFAULT
    ]
    if task.ebm_default and any(SAME_CLASS.get(s) == EBM_DEFAULT for s in task.students):
        cells.append((EBM_DEFAULT, "standardised"))
    if task.ebm_one_bag:
        cells.append((EBM_ONE_BAG, "standardised"))
    cells += [(s, "standardised") for s in task.students]
    if task.raw:
        cells += [(s, "raw") for s in task.students]
        if task.teacher == "MLPTeacher":
            cells.append(("MLPTeacher (raw columns)", "raw"))
    return cells


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


# --------------------------------------------------------------------------- main
def _init_worker() -> None:
    common.set_threads(1)
    _quiet()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - scikit-learn depends on threadpoolctl
        pass


def _quiet() -> None:
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="interpret")


def build_tasks(args: argparse.Namespace, cells_path: Path, done: frozenset) -> list[Task]:
    """One task per data set x seed x teacher, the largest data sets first."""
    students = tuple(args.students.split(",")) if args.students else tuple(ikd.REGISTRY)
    unknown = sorted(set(students) - set(ikd.REGISTRY))
    if unknown:
        raise SystemExit(f"unknown students {unknown}; choose from {', '.join(ikd.REGISTRY)}")
    raw_teachers = set(args.raw_teachers.split(",")) if args.raw_teachers else set()
    tasks = []
    for dataset in args.datasets:
        n_seeds = min(args.seeds, args.large_seeds) if dataset in LARGE else args.seeds
        small = dataset not in LARGE
        for i, seed in enumerate(SEEDS[:n_seeds]):
            for teacher in args.teachers:
                tasks.append(
                    Task(
                        dataset,
                        seed,
                        teacher,
                        students,
                        ebm_one_bag=args.ebm,
                        ebm_default=args.ebm and small and i < args.ebm_default_seeds,
                        raw=teacher in raw_teachers,
                        cells_path=cells_path,
                        done=done,
                    )
                )
    order = {d: k for k, d in enumerate(reversed(DATASETS))}
    tasks.sort(key=lambda t: (order.get(t.dataset, 0), t.seed, t.teacher))
    return tasks


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 small data sets, 1 seed")
    parser.add_argument("--out", type=Path, default=common.OUT_DIR, help="output folder")
    parser.add_argument("--datasets", default=None, help="comma-separated subset")
    parser.add_argument("--seeds", type=int, default=None, help="seeds (default 5, quick 1)")
    parser.add_argument(
        "--large-seeds",
        type=int,
        default=LARGE_SEEDS,
        help=f"seeds on {' and '.join(LARGE)} (default {LARGE_SEEDS})",
    )
    parser.add_argument("--teachers", default=",".join(TEACHERS), help="comma-separated")
    parser.add_argument("--students", default=None, help="registry names (default: all)")
    parser.add_argument(
        "--raw-teachers",
        default=",".join(TEACHERS),
        help="teachers whose students also run on raw columns ('' for none)",
    )
    parser.add_argument("--no-ebm", action="store_true", help="skip both EBMs")
    parser.add_argument(
        "--ebm-default-seeds",
        type=int,
        default=EBM_DEFAULT_SEEDS,
        help=f"seeds with EBM at its defaults, not on {' and '.join(LARGE)} "
        f"(default {EBM_DEFAULT_SEEDS}, quick 0)",
    )
    parser.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="worker processes"
    )
    parser.add_argument("--resume", action="store_true", help="skip cells already in the CSV")
    parser.add_argument("--from-csv", action="store_true", help="rewrite the report only")
    args = parser.parse_args(argv)
    datasets = args.datasets.split(",") if args.datasets else None
    args.datasets = tuple(datasets or (QUICK_DATASETS if args.quick else DATASETS))
    unknown = sorted(set(args.datasets) - set(DATASETS))
    if unknown:
        parser.error(f"unknown data sets {unknown}; choose from {', '.join(DATASETS)}")
    args.teachers = tuple(t for t in args.teachers.split(",") if t)
    if set(args.teachers) - set(TEACHERS):
        parser.error(f"unknown teachers in {args.teachers}; choose from {', '.join(TEACHERS)}")
    args.seeds = args.seeds or (1 if args.quick else len(SEEDS))
    if args.quick and args.ebm_default_seeds == EBM_DEFAULT_SEEDS:
        args.ebm_default_seeds = 0
    if args.quick and args.raw_teachers == ",".join(TEACHERS):
        args.raw_teachers = "MLPTeacher"  # the raw-columns check on one teacher only
    args.ebm = fidelity.ebm_available() and not args.no_ebm
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from . import _surrogates_report as report

    stem = common.stem(NAME, args.quick)
    cells_path = args.out / f"{stem}_cells.csv"
    if args.from_csv:
        return report.finish(cells_path, args, print)
    common.set_threads(1)
    _quiet()
    start = time.perf_counter()

    def log(text: str) -> None:
        print(f"[{time.perf_counter() - start:7.1f} s] {text}", flush=True)

    if not args.resume and cells_path.exists():
        cells_path.unlink()
    done = frozenset(finished_cells(cells_path))
    tasks = build_tasks(args, cells_path, done)
    log(
        f"{NAME}: {len(args.datasets)} data sets x {len(args.teachers)} teachers, "
        f"{len(tasks)} tasks, {len(done)} cells already done, {args.jobs} workers, "
        f"EBM {'on' if args.ebm else 'off'}"
    )
    # Children inherit one OpenMP / BLAS thread (HistGradientBoosting, numpy).
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    if args.jobs <= 1:
        _init_worker()
        for task in tasks:
            for line in run_task(task):
                log(line)
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(args.jobs, mp_context=context, initializer=_init_worker) as pool:
            futures = [pool.submit(run_task, task) for task in tasks]
            for future in as_completed(futures):
                for line in future.result():
                    log(line)
    args.seconds = time.perf_counter() - start
    return report.finish(cells_path, args, log)


if __name__ == "__main__":
    raise SystemExit(main())
