"""The ``interpretable-kd`` command: thin glue between arguments, the public API and files.

::

    interpretable-kd demo [--dataset NAME] [--out DIR] [--students logistic,mlp,tree]
                          [--temperature auto|T] [--n-jobs N]
                          [--preset quick|standard|thorough | --quick] [--seed N]
    interpretable-kd report --data FILE.csv[.gz] --target COLUMN
                            [--teacher-scores COLUMN_OR_FILE] [--id-column COLUMN]
                            [--drop LIST] [--segment-columns LIST] [--protected LIST]
                            [--image-shape HxW] [common options as for demo]
    interpretable-kd datasets

``--preset`` (default ``standard``; ``--quick`` is ``--preset quick``) is the audit
budget of :data:`interpretable_kd._defaults.PRESETS`, the same as the Python API's, so the
command line and ``DistillationReport.from_models(..., preset=...)`` give the same numbers
for the same data and seed. ``--temperature auto`` (the default) chooses T per student;
the summary prints, per student, fidelity with its interval, kappa, the majority baseline,
the worst class, faithful or not and the chosen T. Threads follow the library's rule
(``--n-jobs``).

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
import contextlib
import signal
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sklearn.exceptions import ConvergenceWarning

from ._cli_engine import check_engine, run_scaled
from ._cli_parser import PROG, UsageError, build_parser
from ._cli_safety import (
    Steps,
    Terminated,
    estimate_csv,
    memory_message,
    prepare_output,
    size_note,
    split_rows,
    stem,
    terminating_signals,
)
from ._cli_summary import summary
from ._defaults import DEFAULT_PRESET, HARD_LABEL_WEIGHT, PRESETS, TEST_SIZE, Preset
from ._validation import check_choice
from .datasets import (
    DATASET_NAMES,
    TabularPreprocessor,
    list_datasets,
    load_dataset,
    read_labelled_csv,
    split_dataset,
)
from .datasets._csv_columns import assign_columns
from .datasets.checks import data_warnings
from .exceptions import InterpretableKDError, InterpretableKDWarning, ParameterError
from .teachers import MLPTeacher, as_teacher
from .workflow import distil_and_report

__all__ = ["build_parser", "main"]


# --------------------------------------------------------------------------- helpers
def _preset(args: argparse.Namespace) -> Preset:
    """The run's preset: ``--preset`` (default standard); ``--quick`` is ``--preset quick``.

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    Preset
    """
    if args.quick and args.preset not in (None, "quick"):
        raise ParameterError(
            f"--quick means --preset quick, but --preset {args.preset} was given too; "
            "pass one of them."
        )
    name = "quick" if args.quick else (args.preset or DEFAULT_PRESET)
    args.preset = name
    return PRESETS[name]


def _teacher_epochs(preset: Preset) -> dict[str, Any]:
    """``max_epochs`` of the MLP teacher when the preset names a number, else nothing.

    Parameters
    ----------
    preset : Preset

    Returns
    -------
    dict
        ``{"max_epochs": n}`` or ``{}`` (the library's default).
    """
    return {} if preset.teacher_epochs == "auto" else {"max_epochs": preset.teacher_epochs}


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
    prepare_output(args.out, [], stderr)
    preset = _preset(args)
    steps = _STEPS[0] = Steps(3 + len(args.students) + 1, stderr)
    try:
        steps.start(f"loading {args.dataset}")
        dataset = load_dataset(args.dataset)
        split = split_dataset(dataset, random_state=args.seed)
        steps.done()
        steps.start("training the MLP teacher")
        teacher = MLPTeacher(
            random_state=args.seed, n_jobs=args.n_jobs, **_teacher_epochs(preset)
        ).fit(split.X_train, split.y_train)
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
            n_jobs=args.n_jobs,
            preset=preset,
            images_shape=dataset.images_shape,
            config=_config(args, "demo", preset, dataset=args.dataset),
            extra={
                "description": dataset.task,
                "source": dataset.source,
                "command": _command(args),
            },
            progress=steps,
            X_display=dataset.frame.loc[split.X_test.index].reset_index(drop=True),
        )
    finally:
        steps.close()
    print(summary(report, path, time.perf_counter() - started), file=stdout)


def _config(args: argparse.Namespace, command: str, preset: Preset, **more: Any) -> dict:
    """The ``config`` of ``metrics.json``: what the run was asked to do.

    Parameters
    ----------
    args : argparse.Namespace
    command : str
        ``"demo"`` or ``"report"``.
    preset : Preset
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
        "n_jobs": args.n_jobs,
        "hard_label_weight": HARD_LABEL_WEIGHT,
        "quick": preset.name == "quick",
        "preset": preset.name,
        "teacher_max_epochs": preset.teacher_epochs,
        "student_max_epochs": preset.student_epochs,
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
        Parsed arguments (``data``, ``target``, ``teacher_scores``, ``test_size``, the
        column roles ``id_column``, ``drop``, ``segment_columns``, ``protected``,
        ``image_shape`` and the common ones).
    stdout, stderr : text streams
        The summary goes to ``stdout``; progress and the data warnings to ``stderr``.

    Returns
    -------
    None
    """
    started = time.perf_counter()
    path = Path(args.data)
    if args.out is None:
        args.out = str(Path("reports") / (stem(path) or "report"))
    if not 0 < args.test_size < 1:
        raise ParameterError(f"--test-size must be in (0, 1); got {args.test_size}.")
    inputs = [path] + ([args.teacher_scores] if _is_file(args.teacher_scores) else [])
    preset = _preset(args)
    if args.engine != "memory":
        check_engine(args)
    prepare_output(args.out, inputs, stderr)
    if args.engine != "memory":
        config = _config(args, "report", preset, data=str(path), target=args.target)
        steps = _STEPS[0] = Steps(3 + len(args.students), stderr)
        with contextlib.closing(steps):
            text = run_scaled(args, preset, config, inputs, steps)[1]
        print(f"{text}\n  done in {time.perf_counter() - started:.1f} s", file=stdout)
        return
    size = estimate_csv(path)
    epochs = next((e for e in (preset.student_epochs, preset.teacher_epochs) if e != "auto"), 200)
    n_models = 1 + (1 + preset.n_refits) * len(args.students)
    note = size and size_note(size, path, int(epochs), n_models, preset.name == "quick")
    if note:
        print(f"{PROG}: note: {note}", file=stderr, flush=True)
    steps = _STEPS[0] = Steps(5 + len(args.students), stderr, plain=bool(note))
    try:
        steps.start(f"reading {path.name}")
        table = read_labelled_csv(
            path,
            args.target,
            args.teacher_scores,
            na_values=args.na_values,
            thousands=args.thousands,
        )
        roles = assign_columns(
            table.features,
            path,
            rows=table.rows,
            id_column=args.id_column,
            drop=args.drop,
            segments=args.segment_columns,
            protected=args.protected,
        )
        y, classes, scores = table.y, table.classes, table.scores
        train, test = split_rows(y, args.test_size, args.seed, path)
        steps.done()
        found = data_warnings(
            roles.checked, protected=roles.protected, features=list(roles.features.columns)
        )
        for text in found:
            steps.note(f"{PROG}: warning: {' '.join(text.split())}")
        steps.start(f"encoding {path.name}")
        preprocessor = TabularPreprocessor().fit(roles.features.iloc[train])
        X_all = preprocessor.transform(roles.features)
        X_train, X_test = X_all.iloc[train], X_all.iloc[test]
        steps.done()
        if scores is None:
            steps.start("training the MLP teacher")
            teacher: Any = MLPTeacher(
                random_state=args.seed, n_jobs=args.n_jobs, **_teacher_epochs(preset)
            ).fit(X_train, y[train])
        else:
            steps.start("reading the teacher's scores")
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
            n_jobs=args.n_jobs,
            preset=preset,
            images_shape=args.image_shape,
            config=_config(
                args,
                "report",
                preset,
                data=str(path),
                target=args.target,
                teacher_scores=args.teacher_scores,
                id_column=args.id_column,
                drop=list(args.drop),
                segment_columns=list(args.segment_columns),
                protected=list(args.protected),
            ),
            extra={
                "description": f"{len(y)} labelled rows of {path.name}, target {args.target!r}",
                "source": str(path),
                "command": _command(args),
            },
            progress=steps,
            protect=inputs,
            row_ids=roles.row_ids[test],
            X_display=roles.features.iloc[test].reset_index(drop=True),
            segments=None if roles.segments is None else roles.segments.iloc[test],
            protected=roles.protected or None,
        )
    finally:
        steps.close()
    print(summary(report, out, time.perf_counter() - started), file=stdout)


def _is_file(spec: str | None) -> bool:
    """Whether ``--teacher-scores`` names a file (rather than a column).

    Parameters
    ----------
    spec : str or None

    Returns
    -------
    bool
    """
    return spec is not None and Path(spec).is_file()


# --------------------------------------------------------------------------- entry point
#: What each command runs: ``run(args, stdout, stderr)``.
_COMMANDS: dict[str, Callable[[argparse.Namespace, Any, Any], None]] = {
    "demo": run_demo,
    "report": run_report,
    "datasets": run_datasets,
}
#: The running command's progress (so that a MemoryError can name its step).
_STEPS: list[Steps | None] = [None]
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
        The exit status: 0 success, 1 out of memory, 2 bad input (one line on stderr),
        130 interrupted (Ctrl-C), 128 + n for signal n (SIGTERM 143, SIGHUP 129).
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
    _STEPS[0] = None
    with warnings.catch_warnings(record=True) as caught, terminating_signals():
        warnings.simplefilter("always")
        try:
            run(args, stdout, stderr)
        except _BAD_INPUT as exc:
            print(f"{PROG}: error: {_one_line(exc)}", file=stderr)
            return 2
        except MemoryError:
            step = _STEPS[0].current if _STEPS[0] is not None else "starting"
            print(f"{PROG}: error: {memory_message(step)}", file=stderr)
            return 1
        except Terminated as exc:
            name = signal.Signals(exc.signum).name
            print(f"{PROG}: error: stopped by {name}; no report was written", file=stderr)
            return 128 + exc.signum
        except KeyboardInterrupt:
            print(f"{PROG}: error: interrupted; no report was written", file=stderr)
            return 130
    _show_warnings(caught, stderr)
    return 0
