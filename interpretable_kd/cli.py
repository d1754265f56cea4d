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

This module parses arguments, calls the public API and prints; reading CSV files lives in
:mod:`interpretable_kd.datasets`, distilling and reporting in
:mod:`interpretable_kd.workflow`, the student kinds in
:data:`interpretable_kd.students.REGISTRY`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from tqdm.auto import tqdm

from ._cli_parser import PROG, UsageError, build_parser
from ._defaults import FULL, HARD_LABEL_WEIGHT, QUICK, TEST_SIZE, Budget
from ._validation import check_choice
from .datasets import (
    DATASET_NAMES,
    TabularPreprocessor,
    list_datasets,
    load_dataset,
    read_labelled_csv,
    split_dataset,
    train_test_indices,
)
from .datasets.csv import warn_conflicting_scores
from .exceptions import InputError, InterpretableKDError, InterpretableKDWarning, ParameterError
from .report import check_output_directory
from .teachers import MLPTeacher, as_teacher
from .workflow import distil_and_report

__all__ = ["build_parser", "main"]


# --------------------------------------------------------------------------- helpers
class _Steps:
    """A progress bar over the run's steps, on stderr (only when it is a terminal).

    Parameters
    ----------
    total : int
        Number of steps.
    stream : text stream
        Where the bar is drawn.
    """

    def __init__(self, total: int, stream: Any) -> None:
        self.bar = tqdm(
            total=total,
            file=stream,
            disable=None,
            unit="step",
            leave=False,
            bar_format="{desc:<38}{percentage:3.0f}%|{bar:24}| {n_fmt}/{total_fmt} [{elapsed}]",
        )

    def start(self, text: str) -> None:
        """Show the step that begins.

        Parameters
        ----------
        text : str

        Returns
        -------
        None
        """
        self.bar.set_description_str(text)

    def done(self) -> None:
        """Advance the bar by one step.

        Returns
        -------
        None
        """
        self.bar.update(1)

    def close(self) -> None:
        """Remove the bar.

        Returns
        -------
        None
        """
        self.bar.close()


def _limit_threads() -> None:
    """Train on one thread unless OMP_NUM_THREADS says otherwise: the networks here are
    small, and on two busy cores two threads trained several times slower than one.

    Returns
    -------
    None
    """
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(1)


def _summary(report: Any, path: Path, seconds: float) -> str:
    """What a finished run prints: where the report is and each student's numbers.

    Parameters
    ----------
    report : DistillationReport
    path : pathlib.Path
        The report's ``index.html``.
    seconds : float
        Wall time of the run.

    Returns
    -------
    str
        Several lines, no trailing newline.
    """
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
    """``interpretable-kd demo``: an MLP teacher on a bundled data set, then the report.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments (``dataset``, ``out``, ``students``, ``temperature``, ``quick``,
        ``seed``).
    stdout, stderr : text streams
        The summary goes to ``stdout``, the progress bar to ``stderr``.

    Returns
    -------
    None
    """
    started = time.perf_counter()
    check_choice(args.dataset, "--dataset", PROG + " demo", DATASET_NAMES)
    check_output_directory(args.out)
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
        report, path = distil_and_report(
            teacher,
            split.X_train,
            split.y_train,
            split.X_test,
            split.y_test,
            students=args.students,
            out=args.out,
            dataset_name=dataset.name,
            temperature=args.temperature,
            random_state=args.seed,
            budget=budget,
            images_shape=dataset.images_shape,
            config=_config(args, "demo", budget, dataset=args.dataset),
            extra={
                "description": dataset.task,
                "source": dataset.source,
                "command": _command(args),
            },
            progress=steps,
        )
    finally:
        steps.close()
    print(_summary(report, path, time.perf_counter() - started), file=stdout)


def _config(args: argparse.Namespace, command: str, budget: Budget, **more: Any) -> dict:
    """The ``config`` of ``metrics.json``: what the run was asked to do.

    Parameters
    ----------
    args : argparse.Namespace
    command : str
        ``"demo"`` or ``"report"``.
    budget : Budget
    **more
        Command-specific entries, placed after ``command``.

    Returns
    -------
    dict
    """
    return {
        "command": command,
        **more,
        "students": list(args.students),
        "temperature": args.temperature,
        "hard_label_weight": HARD_LABEL_WEIGHT,
        "quick": bool(args.quick),
        "teacher_max_epochs": budget.teacher_epochs,
        "student_max_epochs": budget.student_epochs,
        "test_size": getattr(args, "test_size", TEST_SIZE),
    }


def _command(args: argparse.Namespace) -> str:
    """The command line that reproduces the run (flags sorted, defaults included).

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    str
    """
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
    """``interpretable-kd datasets``: one line per bundled data set.

    Parameters
    ----------
    args : argparse.Namespace
    stdout, stderr : text streams

    Returns
    -------
    None
    """
    table = list_datasets()
    width = max(len(str(name)) for name in table["name"])
    print(f"{'name':<{width}}  {'rows':>6}  {'features':>8}  {'classes':>7}  task", file=stdout)
    for row in table.itertuples(index=False):
        print(
            f"{row.name:<{width}}  {row.rows:>6}  {row.features:>8}  {row.classes:>7}  {row.task}",
            file=stdout,
        )


def run_report(args: argparse.Namespace, stdout: Any, stderr: Any) -> None:
    """``interpretable-kd report``: a teacher trained on (or scored in) a CSV file, then
    the report on held-out rows.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments (``data``, ``target``, ``teacher_scores``, ``test_size`` and the
        common ones).
    stdout, stderr : text streams

    Returns
    -------
    None
    """
    started = time.perf_counter()
    path = Path(args.data)
    if args.out is None:
        args.out = str(Path("reports") / (path.stem or "report"))
    if not 0 < args.test_size < 1:
        raise ParameterError(f"--test-size must be in (0, 1); got {args.test_size}.")
    check_output_directory(args.out)
    table = read_labelled_csv(path, args.target, args.teacher_scores)
    y, classes, scores = table.y, table.classes, table.scores
    budget = QUICK if args.quick else FULL
    try:
        train, test = train_test_indices(y, test_size=args.test_size, random_state=args.seed)
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
        preprocessor = TabularPreprocessor().fit(table.features.iloc[train])
        X_all = preprocessor.transform(table.features)
        X_train, X_test = X_all.iloc[train], X_all.iloc[test]
        steps.done()
        if scores is None:
            steps.start("training the MLP teacher")
            teacher: Any = MLPTeacher(random_state=args.seed, max_epochs=budget.teacher_epochs).fit(
                X_train, y[train]
            )
        else:
            steps.start("reading the teacher's scores")
            warn_conflicting_scores(X_all, scores)
            teacher = as_teacher(scores, X=X_all, output="proba", classes=list(classes))
        steps.done()
        report, out = distil_and_report(
            teacher,
            X_train,
            y[train],
            X_test,
            y[test],
            students=args.students,
            out=args.out,
            dataset_name=path.name,
            temperature=args.temperature,
            random_state=args.seed,
            budget=budget,
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
            progress=steps,
        )
    finally:
        steps.close()
    print(_summary(report, out, time.perf_counter() - started), file=stdout)


# --------------------------------------------------------------------------- entry point
#: What each command runs: ``run(args, stdout, stderr)``.
_COMMANDS: dict[str, Callable[[argparse.Namespace, Any, Any], None]] = {
    "demo": run_demo,
    "report": run_report,
    "datasets": run_datasets,
}
_BAD_INPUT: tuple[type[BaseException], ...] = (
    InterpretableKDError,
    ValueError,
    TypeError,
    OSError,
    KeyError,
)


def _one_line(exc: BaseException) -> str:
    """An exception as one line of text, without a traceback.

    Parameters
    ----------
    exc : BaseException

    Returns
    -------
    str
        ``strerror: 'filename'`` for OS errors, ``missing key ...`` for KeyError, else
        ``str(exc)`` (or the class name), whitespace collapsed.
    """
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror + (f": {exc.filename!r}" if exc.filename else "")
    elif isinstance(exc, KeyError):
        text = f"missing key {exc.args[0]!r}" if exc.args else "missing key"
    else:
        text = str(exc) or type(exc).__name__
    return " ".join(text.split())


def _show_warnings(caught: list[warnings.WarningMessage], stderr: Any) -> None:
    """Print the library's and scikit-learn's convergence warnings, each text once.

    Parameters
    ----------
    caught : list of warnings.WarningMessage
        Recorded while the command ran.
    stderr : text stream

    Returns
    -------
    None
    """
    seen = set()
    for item in caught:
        if not issubclass(item.category, InterpretableKDWarning | ConvergenceWarning):
            continue
        text = " ".join(str(item.message).split())
        if text not in seen:
            seen.add(text)
            print(f"{PROG}: warning: {text}", file=stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str or None, default=None
        The arguments after the program name; None reads ``sys.argv[1:]``.

    Returns
    -------
    int
        The exit status: 0 success, 2 bad input (one line on stderr), 130 interrupted.
    """
    stdout, stderr = sys.stdout, sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=stderr)
        return 2
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    run = _COMMANDS[args.command]
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
