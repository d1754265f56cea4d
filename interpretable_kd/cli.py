"""The ``interpretable-kd`` command: thin glue between arguments, the public API and files.

::

    interpretable-kd demo [--dataset NAME] [--out DIR] [--students logistic,mlp,tree]
                          [--temperature T] [--quick] [--seed N]
    interpretable-kd report --data FILE.csv --target COLUMN [--teacher-scores COLUMN_OR_FILE]
                            [--students ...] [--out DIR] [--temperature T] [--quick] [--seed N]
    interpretable-kd datasets

Exit status: 0 on success, 2 for bad input (one line ``interpretable-kd: error: ...`` on
stderr, no traceback). A report directory is written atomically, so a failed run never
leaves half a report behind.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from ._validation import format_items
from .exceptions import InputError, InterpretableKDError, InterpretableKDWarning, ParameterError

__all__ = ["main"]

PROG = "interpretable-kd"
DEFAULT_STUDENTS = ("logistic", "mlp", "tree")
STUDENT_NAMES = {"logistic": "logistic regression", "mlp": "shallow MLP", "tree": "soft tree"}


@dataclass(frozen=True)
class Budget:
    """How much work a run does: the default, or ``--quick`` (for smoke tests)."""

    teacher_epochs: int
    student_epochs: int
    explain_rows: int
    n_bootstrap: int
    max_background: int


# The default keeps `interpretable-kd demo` (breast cancer, three students) under a minute
# on two CPU cores: explaining rows dominates, then training.
FULL = Budget(
    teacher_epochs=200, student_epochs=200, explain_rows=100, n_bootstrap=300, max_background=25
)
QUICK = Budget(
    teacher_epochs=30, student_epochs=30, explain_rows=25, n_bootstrap=100, max_background=15
)


class UsageError(Exception):
    """Raised instead of argparse's exit, so that main() prints one line and returns 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# --------------------------------------------------------------------------- parsing
def _students_arg(text: str) -> list[str]:
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of {', '.join(DEFAULT_STUDENTS)}"
        )
    unknown = [n for n in names if n not in STUDENT_NAMES]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(STUDENT_NAMES), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise argparse.ArgumentTypeError(
            f"unknown student {unknown[0]!r}: choose from {', '.join(DEFAULT_STUDENTS)}{hint}"
        )
    return list(dict.fromkeys(names))


def _temperature_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _seed_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**32), got {text!r}")
    return value


def _add_common(parser: argparse.ArgumentParser, default_out: str | None) -> None:
    parser.add_argument(
        "--students",
        type=_students_arg,
        default=list(DEFAULT_STUDENTS),
        metavar="LIST",
        help="comma-separated students to distil: logistic, mlp, tree (default: all three)",
    )
    parser.add_argument(
        "--out",
        default=default_out,
        metavar="DIR",
        help=f"output directory (default: {default_out or 'reports/<name of the CSV file>'}); "
        "an earlier report there is replaced, any other non-empty directory is refused",
    )
    parser.add_argument(
        "--temperature",
        type=_temperature_arg,
        default=1.0,
        metavar="T",
        help="distillation temperature (default: 1.0, the winner of the benchmark sweep)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="fewer epochs, explained rows and bootstrap resamples: a fast, rougher report",
    )
    parser.add_argument(
        "--seed", type=_seed_arg, default=0, metavar="N", help="random seed (default: 0)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Distil a black-box classifier into readable students and write an HTML "
        "report on how faithful each one is.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    demo = commands.add_parser(
        "demo",
        help="distil an MLP teacher on a bundled data set and write a report",
        description="Train an MLP teacher on a bundled data set, distil it into each student, "
        "compare them on held-out rows and write index.html, figures/ and metrics.json.",
    )
    demo.add_argument(
        "--dataset",
        default="breast_cancer",
        metavar="NAME",
        help="bundled data set (default: breast_cancer; see `interpretable-kd datasets`)",
    )
    _add_common(demo, "reports/demo")
    demo.set_defaults(run=run_demo)

    report = commands.add_parser(
        "report",
        help="distil a teacher on your own CSV file and write a report",
        description="Read a CSV file (categorical columns are one-hot encoded), train an MLP "
        "teacher on it, or take the teacher's scores as given, distil the teacher into each "
        "student and write a report on held-out rows.",
    )
    report.add_argument("--data", required=True, metavar="FILE.csv", help="UTF-8 CSV file")
    report.add_argument("--target", required=True, metavar="COLUMN", help="the label column")
    report.add_argument(
        "--teacher-scores",
        metavar="COLUMN_OR_FILE",
        help="the black box's scores instead of a trained teacher: a column of FILE.csv "
        "holding, for a binary target, the probability of the label that sorts last (1 of "
        "0/1, 'yes' of no/yes); or a .csv/.npy file with one row per row of FILE.csv and "
        "one probability column per class, in sorted label order or named by label",
    )
    report.add_argument(
        "--test-size",
        type=float,
        default=0.3,
        metavar="FRACTION",
        help="share of rows held out for the report (default: 0.3)",
    )
    _add_common(report, None)
    report.set_defaults(run=run_report)

    datasets = commands.add_parser(
        "datasets", help="list the bundled data sets", description="List the bundled data sets."
    )
    datasets.set_defaults(run=run_datasets)
    return parser


# --------------------------------------------------------------------------- helpers
class _Steps:
    """A progress bar over the run's steps, on stderr (only when it is a terminal)."""

    def __init__(self, total: int, stream: Any) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=total,
            file=stream,
            disable=None,
            unit="step",
            leave=False,
            bar_format="{desc:<38}{percentage:3.0f}%|{bar:24}| {n_fmt}/{total_fmt} [{elapsed}]",
        )

    def start(self, text: str) -> None:
        self.bar.set_description_str(text)

    def done(self) -> None:
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


def _limit_threads() -> None:
    """Train on one thread unless OMP_NUM_THREADS says otherwise: the networks here are
    small, and on two busy cores two threads trained several times slower than one."""
    if "OMP_NUM_THREADS" not in os.environ:
        import torch

        torch.set_num_threads(1)


def _make_student(kind: str, seed: int, budget: Budget) -> Any:
    from .students import ShallowMLPClassifier, SoftDecisionTreeClassifier, SoftLogisticRegression

    epochs = budget.student_epochs
    if kind == "logistic":
        return SoftLogisticRegression(random_state=seed, max_epochs=epochs)
    if kind == "mlp":
        return ShallowMLPClassifier(random_state=seed, max_epochs=epochs)
    return SoftDecisionTreeClassifier(depth=4, random_state=seed, max_epochs=epochs)


def _check_out(out: str) -> Path:
    from .report.html import check_output_directory

    return check_output_directory(out)


def _distil_and_report(
    *,
    teacher: Any,
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    args: argparse.Namespace,
    budget: Budget,
    steps: _Steps,
    dataset_name: str,
    images_shape: tuple[int, int] | None,
    config: dict[str, Any],
    extra: dict[str, Any],
) -> tuple[Any, Path]:
    """Distil ``teacher`` into each student (and fit an outcome student of the same kind on
    the labels), compare them on the test rows and save the report."""
    from .distill import DistilledClassifier
    from .report.numbers import DistillationReport

    distilled: dict[str, Any] = {}
    outcome: dict[str, Any] = {}
    for kind in args.students:
        name = STUDENT_NAMES[kind]
        steps.start(f"distilling the {name}")
        distilled[name] = DistilledClassifier(
            teacher,
            _make_student(kind, args.seed, budget),
            temperature=args.temperature,
            random_state=args.seed,
        ).fit(X_train, y_train)
        outcome[name] = _make_student(kind, args.seed, budget).fit(X_train, y_train)
        steps.done()
    steps.start("comparing teacher and students")
    report = DistillationReport.from_models(
        teacher,
        distilled,
        X_test,
        y_test,
        background=X_train,
        outcome_students=outcome,
        explain_rows=budget.explain_rows,
        n_bootstrap=budget.n_bootstrap,
        max_background=budget.max_background,
        dataset_name=dataset_name,
        images_shape=images_shape,
        config=config,
        random_state=args.seed,
    )
    report.extra.update(extra)
    steps.done()
    steps.start("writing the report")
    path = report.save(args.out)
    steps.done()
    return report, Path(path)


def _summary(report: Any, path: Path, seconds: float) -> str:
    lines = [f"Report written to {path}"]
    data = report.dataset
    teacher = report.teacher
    line = (
        f"  {data['name']}: {data['n_rows']} held-out rows, {data['n_features']} features; "
        f"teacher {teacher['kind']}"
    )
    if teacher.get("accuracy") is not None:
        line += f", accuracy {teacher['accuracy']:.3f}"
    lines.append(line)
    width = max(len(name) for name in report.students)
    for name, result in report.students.items():
        low, high = result.fidelity_ci
        text = f"  {name:<{width}}  fidelity {result.fidelity:.3f}"
        if np.isfinite(low) and np.isfinite(high):
            text += f" [{low:.3f}, {high:.3f}]"
        if result.accuracy is not None:
            text += f"  accuracy {result.accuracy:.3f}"
        if result.agreement is not None:
            k = report.top_k
            text += (
                f"  top-{k} feature agreement {result.agreement['feature_agreement']['mean']:.3f}"
            )
        lines.append(text)
    n_figures = len(list((path.parent / "figures").glob("*.png")))
    lines.append(f"  also: {path.parent / 'metrics.json'}, {n_figures} figures in figures/")
    lines.append(f"  done in {seconds:.1f} s")
    return "\n".join(lines)


# --------------------------------------------------------------------------- commands
def run_demo(args: argparse.Namespace, stdout: Any, stderr: Any) -> None:
    from ._validation import check_choice
    from .datasets import DATASET_NAMES, load_dataset, split_dataset
    from .teachers import MLPTeacher

    started = time.perf_counter()
    check_choice(args.dataset, "--dataset", PROG + " demo", DATASET_NAMES)
    _check_out(args.out)
    budget = QUICK if args.quick else FULL
    _limit_threads()
    steps = _Steps(3 + len(args.students) + 1, stderr)
    try:
        steps.start(f"loading {args.dataset}")
        dataset = load_dataset(args.dataset)
        split = split_dataset(dataset, random_state=args.seed)
        steps.done()
        steps.start("training the MLP teacher")
        teacher = MLPTeacher(random_state=args.seed, max_epochs=budget.teacher_epochs).fit(
            split.X_train, split.y_train
        )
        steps.done()
        report, path = _distil_and_report(
            teacher=teacher,
            X_train=split.X_train,
            y_train=split.y_train,
            X_test=split.X_test,
            y_test=split.y_test,
            args=args,
            budget=budget,
            steps=steps,
            dataset_name=dataset.name,
            images_shape=dataset.images_shape,
            config=_config(args, "demo", budget, dataset=args.dataset),
            extra={
                "description": dataset.task,
                "source": dataset.source,
                "command": _command(args),
            },
        )
    finally:
        steps.close()
    print(_summary(report, path, time.perf_counter() - started), file=stdout)


def _config(args: argparse.Namespace, command: str, budget: Budget, **more: Any) -> dict:
    return {
        "command": command,
        **more,
        "students": list(args.students),
        "temperature": args.temperature,
        "hard_label_weight": 0.1,
        "quick": bool(args.quick),
        "teacher_max_epochs": budget.teacher_epochs,
        "student_max_epochs": budget.student_epochs,
        "test_size": getattr(args, "test_size", 0.3),
    }


def _command(args: argparse.Namespace) -> str:
    parts = [PROG, args.command]
    for key, value in sorted(vars(args).items()):
        if key in ("command", "run") or value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            parts.append(flag)
        elif isinstance(value, list):
            parts.append(f"{flag} {','.join(value)}")
        else:
            parts.append(f"{flag} {value}")
    return " ".join(parts)


def run_datasets(args: argparse.Namespace, stdout: Any, stderr: Any) -> None:
    from .datasets import list_datasets

    table = list_datasets()
    width = max(len(str(name)) for name in table["name"])
    print(f"{'name':<{width}}  {'rows':>6}  {'features':>8}  {'classes':>7}  task", file=stdout)
    for row in table.itertuples(index=False):
        print(
            f"{row.name:<{width}}  {row.rows:>6}  {row.features:>8}  {row.classes:>7}  {row.task}",
            file=stdout,
        )


def _check_text(path: Path, what: str) -> None:
    """Refuse files with NUL bytes: binary data, or UTF-16 text, never a UTF-8 CSV."""
    with open(path, "rb") as handle:
        offset = 0
        while chunk := handle.read(1 << 20):
            if b"\x00" in chunk:
                raise InputError(
                    f"{what} {str(path)!r} holds a NUL byte (at byte {offset + chunk.index(0)}): "
                    "it is binary or not UTF-8 text (UTF-16?). Save it as a UTF-8 CSV file."
                )
            offset += len(chunk)


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    if not path.exists():
        raise InputError(f"{what} {str(path)!r}: no such file.")
    if path.is_dir():
        raise InputError(f"{what} {str(path)!r} is a directory; pass a CSV file.")
    _check_text(path, what)
    try:
        frame = pd.read_csv(path, encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{what} {str(path)!r} is not UTF-8 text (byte {exc.start}: {exc.reason}). "
            "Save it as UTF-8, e.g. `iconv -f latin1 -t utf-8`."
        ) from exc
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{what} {str(path)!r} is empty: no header, no rows.") from exc
    except pd.errors.ParserError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise InputError(f"{what} {str(path)!r} is not a readable CSV file: {first}") from exc
    if frame.shape[0] == 0:
        raise InputError(f"{what} {str(path)!r} has a header but no rows.")
    header = pd.read_csv(path, encoding="utf-8-sig", header=None, nrows=1, dtype=str)
    names = [str(name) for name in header.iloc[0].tolist() if isinstance(name, str)]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InputError(
            f"{what} {str(path)!r} has duplicate column names {format_items(duplicates)}; "
            "give every column its own name."
        )
    return frame


def _labels(series: pd.Series, path: Path, target: str) -> tuple[pd.Series, np.ndarray]:
    """Rows with a label, and the labels (integers stay integers, the rest strings)."""
    keep = series.notna().to_numpy()
    if not keep.any():
        raise InputError(f"Column {target!r} of {str(path)!r} has no values: nothing to learn.")
    y = series[keep]
    if pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y):
        values = y.to_numpy(dtype=np.float64)
        if np.all(values == np.round(values)):
            y = y.astype(np.int64)
    else:
        y = y.astype(str)
    classes, counts = np.unique(y.to_numpy(), return_counts=True)
    if len(classes) < 2:
        raise InputError(
            f"Column {target!r} of {str(path)!r} has a single class {classes[0]!r}; a "
            "classifier needs at least two."
        )
    if len(classes) > max(20, len(y) // 5):
        raise InputError(
            f"Column {target!r} of {str(path)!r} has {len(classes)} distinct values in "
            f"{len(y)} rows; it looks continuous, but interpretable-kd distils classifiers. "
            "Pass a column of class labels."
        )
    rare = [c for c, n in zip(classes, counts, strict=True) if n < 2]
    if rare:
        raise InputError(
            f"Column {target!r} of {str(path)!r} has classes with a single row "
            f"({format_items(rare)}); each class needs at least 2 rows to be split into "
            "training and test rows. Drop or merge them."
        )
    return pd.Series(keep, index=series.index), y.to_numpy()


def _scores(
    spec: str, frame: pd.DataFrame, path: Path, keep: np.ndarray, classes: np.ndarray
) -> tuple[np.ndarray, str | None]:
    """The teacher's probabilities for the kept rows; and the CSV column they came from."""
    column: str | None = None
    scores: np.ndarray  # (n_rows,) positive-class probabilities or (n_rows, n_classes)
    if spec in frame.columns:
        column = spec
        raw = frame[spec]
        if not pd.api.types.is_numeric_dtype(raw):
            raise InputError(
                f"--teacher-scores column {spec!r} holds text; it must hold the teacher's "
                f"probability of the class {classes[-1]!r}, numbers in [0, 1]."
            )
        scores = raw.to_numpy(dtype=np.float64)
        source = f"column {spec!r}"
    else:
        file = Path(spec)
        if not file.is_file():
            close = difflib.get_close_matches(spec, [str(c) for c in frame.columns], n=1)
            hint = f" Did you mean the column {close[0]!r}?" if close else ""
            raise InputError(
                f"--teacher-scores {spec!r} is neither a column of {str(path)!r} (columns: "
                f"{format_items(frame.columns, 8)}) nor an existing file.{hint}"
            )
        if file.suffix.lower() == ".npy":
            try:
                scores = np.load(file, allow_pickle=False)
            except (ValueError, OSError) as exc:
                raise InputError(
                    f"--teacher-scores {spec!r} is not a readable .npy file: {exc}"
                ) from exc
            scores = np.asarray(scores, dtype=np.float64)
        elif file.suffix.lower() in (".csv", ".txt"):
            table = _read_csv(file, "--teacher-scores")
            names = [str(c) for c in table.columns]
            wanted = [str(c) for c in classes]
            if table.shape[1] > 1 and set(wanted) <= set(names):
                table = table.set_axis(names, axis=1)[wanted]
            scores = table.to_numpy()
            try:
                scores = scores.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise InputError(
                    f"--teacher-scores {spec!r} must hold numbers (probabilities); {exc}."
                ) from exc
        else:
            raise InputError(
                f"--teacher-scores {spec!r} must be a .csv or .npy file (or a column name)."
            )
        source = f"file {spec!r}"
        if scores.ndim == 2 and scores.shape[1] == 1:
            scores = scores[:, 0]
    if scores.shape[0] != len(frame):
        raise InputError(
            f"--teacher-scores {source} has {scores.shape[0]} rows, but {str(path)!r} has "
            f"{len(frame)}; the scores must be aligned with the rows of the data, one per row."
        )
    scores = scores[keep]
    if not np.isfinite(scores).all():
        raise InputError(
            f"--teacher-scores {source} has missing or infinite values; score every row."
        )
    if scores.ndim == 1:
        if len(classes) != 2:
            raise InputError(
                f"--teacher-scores {source} has one score per row, which stands for a binary "
                f"target, but {len(classes)} classes were found; give one column per class."
            )
        if scores.min() < 0 or scores.max() > 1:
            raise InputError(
                f"--teacher-scores {source} must be probabilities of the class "
                f"{classes[1]!r} in [0, 1]; found values from {scores.min():g} to "
                f"{scores.max():g}. Convert them to probabilities first."
            )
    elif scores.ndim != 2 or scores.shape[1] != len(classes):
        raise InputError(
            f"--teacher-scores {source} has shape {scores.shape}; expected one column per "
            f"class ({len(classes)}: {format_items(classes.tolist())}) or a single column."
        )
    return scores, column


def _warn_conflicting_scores(X: pd.DataFrame, scores: np.ndarray) -> None:
    """A scores-only teacher knows a row by its features: identical rows with different
    scores cannot all be honoured (the teacher answers with one of them)."""
    table = X.reset_index(drop=True).copy()
    score_columns = [f"\x00score{j}" for j in range(1 if scores.ndim == 1 else scores.shape[1])]
    table[score_columns] = scores.reshape(len(table), -1)
    distinct = table.drop_duplicates()
    clashes = int(distinct.duplicated(subset=list(X.columns)).sum())
    if clashes:
        warnings.warn(
            f"{clashes} of the {len(table)} rows repeat the features of another row with a "
            "different teacher score; a scores-only teacher recognises rows by their "
            "features, so it answers with one score for each group of identical rows.",
            InterpretableKDWarning,
            stacklevel=2,
        )


def run_report(args: argparse.Namespace, stdout: Any, stderr: Any) -> None:
    from sklearn.model_selection import train_test_split

    from .datasets import TabularPreprocessor
    from .teachers import MLPTeacher, as_teacher

    started = time.perf_counter()
    path = Path(args.data)
    if args.out is None:
        args.out = str(Path("reports") / (path.stem or "report"))
    if not 0 < args.test_size < 1:
        raise ParameterError(f"--test-size must be in (0, 1); got {args.test_size}.")
    _check_out(args.out)
    frame = _read_csv(path, "--data")
    if args.target not in frame.columns:
        close = difflib.get_close_matches(args.target, [str(c) for c in frame.columns], n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise InputError(
            f"--target {args.target!r} is not a column of {str(path)!r}; its columns are "
            f"{format_items(frame.columns, 8)}.{hint}"
        )
    keep_series, y = _labels(frame[args.target], path, args.target)
    keep = keep_series.to_numpy()
    classes = np.unique(y)
    scores = None
    drop = [args.target]
    if args.teacher_scores is not None:
        scores, column = _scores(args.teacher_scores, frame, path, keep, classes)
        if column is not None:
            drop.append(column)
    features = frame.loc[keep].drop(columns=drop).reset_index(drop=True)
    if features.shape[1] == 0:
        raise InputError(
            f"{str(path)!r} has no feature columns besides the target {args.target!r}."
        )
    budget = QUICK if args.quick else FULL
    index = np.arange(len(y))
    try:
        train, test = train_test_split(
            index, test_size=args.test_size, random_state=args.seed, stratify=y
        )
    except ValueError as exc:
        raise InputError(
            f"Cannot split the {len(y)} labelled rows of {str(path)!r} into training and test "
            f"rows with every class in both ({exc}). Add rows or change --test-size."
        ) from exc
    train, test = np.sort(train), np.sort(test)
    _limit_threads()
    steps = _Steps(3 + len(args.students) + 1, stderr)
    try:
        steps.start(f"encoding {path.name}")
        preprocessor = TabularPreprocessor().fit(features.iloc[train])
        X_all = preprocessor.transform(features)
        X_train, X_test = X_all.iloc[train], X_all.iloc[test]
        steps.done()
        if scores is None:
            steps.start("training the MLP teacher")
            teacher: Any = MLPTeacher(random_state=args.seed, max_epochs=budget.teacher_epochs).fit(
                X_train, y[train]
            )
        else:
            steps.start("reading the teacher's scores")
            _warn_conflicting_scores(X_all, scores)
            teacher = as_teacher(scores, X=X_all, output="proba", classes=list(classes))
        steps.done()
        report, out = _distil_and_report(
            teacher=teacher,
            X_train=X_train,
            y_train=y[train],
            X_test=X_test,
            y_test=y[test],
            args=args,
            budget=budget,
            steps=steps,
            dataset_name=path.name,
            images_shape=None,
            config=_config(
                args,
                "report",
                budget,
                data=str(path),
                target=args.target,
                teacher_scores=args.teacher_scores,
            ),
            extra={
                "description": f"{len(y)} labelled rows of {path.name}, target {args.target!r}",
                "source": str(path),
                "command": _command(args),
            },
        )
    finally:
        steps.close()
    print(_summary(report, out, time.perf_counter() - started), file=stdout)


# --------------------------------------------------------------------------- entry point
_BAD_INPUT: tuple[type[BaseException], ...] = (
    InterpretableKDError,
    ValueError,
    TypeError,
    OSError,
    KeyError,
)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror + (f": {exc.filename!r}" if exc.filename else "")
    elif isinstance(exc, KeyError):
        text = f"missing key {exc.args[0]!r}" if exc.args else "missing key"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def _show_warnings(caught: list[warnings.WarningMessage], stderr: Any) -> None:
    from sklearn.exceptions import ConvergenceWarning

    seen = set()
    for item in caught:
        if not issubclass(item.category, InterpretableKDWarning | ConvergenceWarning):
            continue
        text = " ".join(str(item.message).split())
        if text not in seen:
            seen.add(text)
            print(f"{PROG}: warning: {text}", file=stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 success, 2 bad input)."""
    stdout, stderr = sys.stdout, sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=stderr)
        return 2
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    run: Callable[[argparse.Namespace, Any, Any], None] = args.run
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            run(args, stdout, stderr)
        except _BAD_INPUT as exc:
            print(f"{PROG}: error: {_one_line(exc)}", file=stderr)
            return 2
        except KeyboardInterrupt:
            print(f"{PROG}: error: interrupted; no report was written", file=stderr)
            return 130
    _show_warnings(caught, stderr)
    return 0
