"""Argument parsing of the ``interpretable-kd`` command (see :mod:`interpretable_kd.cli`).

Student names, their order and the default ``--students`` come from
:data:`interpretable_kd.students.REGISTRY`; the numeric defaults from
:mod:`interpretable_kd._defaults`. Bad arguments raise :class:`UsageError`, which
:func:`interpretable_kd.cli.main` prints as one line with exit status 2.
"""

from __future__ import annotations

import argparse
import difflib
from typing import Any

import numpy as np

from ._defaults import TEMPERATURE, TEST_SIZE
from ._version import __version__
from .students import REGISTRY

__all__ = ["PROG", "UsageError", "build_parser"]

PROG = "interpretable-kd"
_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


class UsageError(Exception):
    """Raised instead of argparse's exit, so that main() prints one line and returns 2."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises :class:`UsageError` instead of exiting."""

    def error(self, message: str) -> Any:
        """Raise the usage error with a pointer to ``--help``.

        Parameters
        ----------
        message : str
            argparse's message.

        Returns
        -------
        NoReturn
        """
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# --------------------------------------------------------------------------- parsing
def _students_arg(text: str) -> list[str]:
    """Parse ``--students``: registered student names, comma-separated.

    Parameters
    ----------
    text : str
        E.g. ``"logistic,tree"``; case and spaces are ignored.

    Returns
    -------
    list of str
        The names, repeats dropped, in the order given.
    """
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated list of {', '.join(REGISTRY)}"
        )
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(REGISTRY), n=1, cutoff=0.5)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise argparse.ArgumentTypeError(
            f"unknown student {unknown[0]!r}: choose from {', '.join(REGISTRY)}{hint}"
        )
    return list(dict.fromkeys(names))


def _temperature_arg(text: str) -> float:
    """Parse ``--temperature``: a finite positive number.

    Parameters
    ----------
    text : str

    Returns
    -------
    float
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def _seed_arg(text: str) -> int:
    """Parse ``--seed``: an integer in [0, 2**32).

    Parameters
    ----------
    text : str

    Returns
    -------
    int
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**32), got {text!r}")
    return value


def _add_common(parser: argparse.ArgumentParser, default_out: str | None) -> None:
    """Add ``--students``, ``--out``, ``--temperature``, ``--quick`` and ``--seed``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        A command's parser.
    default_out : str or None
        The default output directory; None derives it from the CSV file's name.

    Returns
    -------
    None
    """
    names = list(REGISTRY)
    count = _NUMBER_WORDS[len(names)] if len(names) < len(_NUMBER_WORDS) else str(len(names))
    parser.add_argument(
        "--students",
        type=_students_arg,
        default=names,
        metavar="LIST",
        help=f"comma-separated students to distil: {', '.join(names)} (default: all {count})",
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
        default=TEMPERATURE,
        metavar="T",
        help=f"distillation temperature (default: {TEMPERATURE}, the winner of the benchmark "
        "sweep)",
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
    """The argument parser of every command (``demo``, ``report``, ``datasets``).

    Returns
    -------
    argparse.ArgumentParser
        ``command`` names the command given; bad arguments raise :class:`UsageError`
        instead of exiting (``--help`` and ``--version`` still exit).
    """
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
        default=TEST_SIZE,
        metavar="FRACTION",
        help=f"share of rows held out for the report (default: {TEST_SIZE})",
    )
    _add_common(report, None)

    commands.add_parser(
        "datasets", help="list the bundled data sets", description="List the bundled data sets."
    )
    return parser
