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

from ._defaults import (
    DEFAULT_PRESET,
    DISTILL_TEMPERATURE,
    MAX_TEMPERATURE,
    MIN_TEMPERATURE,
    PRESETS,
    TEMPERATURE_GRID,
    TEST_SIZE,
)
from ._version import __version__
from .students import REGISTRY

__all__ = ["PROG", "UsageError", "build_parser"]

PROG = "interpretable-kd"
#: ``--temperature``'s help: the default and its grid (``_defaults.TEMPERATURE_GRID``).
TEMPERATURE_HELP = (
    f"{DISTILL_TEMPERATURE} (default): chosen per student from "
    f"{', '.join(f'{t:g}' for t in TEMPERATURE_GRID)} by fidelity on held-out training rows; "
    f"or a fixed temperature between {MIN_TEMPERATURE:g} and {MAX_TEMPERATURE:g} (below 1 "
    "sharpens, above 1 softens the teacher's probabilities)"
)
#: ``--preset``'s help: what each named budget (``_defaults.PRESETS``) spends.
PRESET_HELP = "; ".join(
    f"{p.name}: {p.explain_rows} rows explained, {p.max_background} background rows, "
    f"{p.n_permutations} orderings, {p.n_explanations} explanation runs, {p.n_bootstrap} "
    f"bootstrap resamples, {p.n_refits} refit{'s' if p.n_refits > 1 else ''}"
    for p in PRESETS.values()
)
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


def _temperature_arg(text: str) -> float | str:
    """Parse ``--temperature``: ``auto`` (any case) or a number in
    [``MIN_TEMPERATURE``, ``MAX_TEMPERATURE``] (the library's bounds,
    :func:`interpretable_kd._validation.check_temperature`).

    Parameters
    ----------
    text : str

    Returns
    -------
    float or str
        ``"auto"`` or T.
    """
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number, got {text!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be 'auto' or a positive number, got {text!r}")
    if not MIN_TEMPERATURE <= value <= MAX_TEMPERATURE:
        raise argparse.ArgumentTypeError(
            f"must be between {MIN_TEMPERATURE:g} and {MAX_TEMPERATURE:g} (default: auto; "
            f"0.1 to 4 is usual), got {text!r}"
        )
    return value


def _integer(text: str, expected: str) -> int:
    """``int(text)``, or the argparse error "expected <expected>, got <text>"."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None


def _n_jobs_arg(text: str) -> int:
    """Parse ``--n-jobs``: a non-zero integer (negative counts back from all cores).

    Parameters
    ----------
    text : str

    Returns
    -------
    int
    """
    value = _integer(text, "an integer such as 1 or -1")
    if value == 0:
        raise argparse.ArgumentTypeError(
            "must not be 0: use a positive thread count, -1 for all cores, or leave it out "
            "for the library's choice"
        )
    return value


def _na_values_arg(text: str) -> list[str]:
    """Parse ``--na-values``: cell texts meaning "missing", comma-separated.

    Parameters
    ----------
    text : str
        E.g. ``"?,n/a"``.

    Returns
    -------
    list of str
        Non-empty texts, repeats dropped (spaces kept: ``" ?"`` differs from ``"?"``).
    """
    values = [part for part in text.split(",") if part != ""]
    if not values:
        raise argparse.ArgumentTypeError(f"expected texts such as '?,n/a', got {text!r}")
    return list(dict.fromkeys(values))


def _thousands_arg(text: str) -> str:
    """Parse ``--thousands``: one character that groups digits (``,`` or ``_``...).

    Parameters
    ----------
    text : str

    Returns
    -------
    str
    """
    if len(text) != 1 or text.isdigit() or text in '.\n\r"':
        raise argparse.ArgumentTypeError(
            f"expected one separator character such as ',' (not a digit, '.' or a quote), "
            f"got {text!r}"
        )
    return text


def _columns_arg(text: str) -> list[str]:
    """Parse a list of column names (``--drop``, ``--segment-columns``, ``--protected``).

    Parameters
    ----------
    text : str
        E.g. ``"sex,race"``; spaces around each name are ignored.

    Returns
    -------
    list of str
        The names, repeats dropped, in the order given.
    """
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated column names such as 'sex,race', got {text!r}"
        )
    return list(dict.fromkeys(names))


def _image_shape_arg(text: str) -> tuple[int, int]:
    """Parse ``--image-shape``: ``HxW`` with two positive integers.

    Parameters
    ----------
    text : str
        E.g. ``"28x28"`` (``X`` and ``*`` work too).

    Returns
    -------
    tuple of int
        ``(height, width)``.
    """
    parts = text.lower().replace("*", "x").split("x")
    try:
        shape = tuple(int(part) for part in parts)
    except ValueError:
        shape = ()
    if len(shape) != 2 or min(shape) < 1:
        raise argparse.ArgumentTypeError(
            f"expected HxW with two positive integers such as 28x28, got {text!r}"
        )
    return shape[0], shape[1]


def _positive_int_arg(text: str) -> int:
    """Parse a positive integer (``--num-workers``).

    Parameters
    ----------
    text : str

    Returns
    -------
    int
    """
    value = _integer(text, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
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
    value = _integer(text, "an integer")
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be in [0, 2**32), got {text!r}")
    return value


def _add_common(parser: argparse.ArgumentParser, default_out: str | None) -> None:
    """Add ``--students``, ``--out``, ``--temperature``, ``--n-jobs``, ``--quick`` and
    ``--seed``.

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
        "a report this program wrote there (unchanged, with its marker file) is replaced; "
        "any other non-empty directory, the working directory and the data's are refused",
    )
    parser.add_argument(
        "--temperature",
        type=_temperature_arg,
        default=DISTILL_TEMPERATURE,
        metavar="T",
        help=TEMPERATURE_HELP,
    )
    parser.add_argument(
        "--n-jobs",
        type=_n_jobs_arg,
        default=None,
        metavar="N",
        help="torch threads for training and prediction (default: the library's choice, the "
        "same as in Python: one thread for the batch sizes used here, where more were "
        "measured slower; -1 = all cores)",
    )
    parser.add_argument(
        "--preset",
        choices=list(PRESETS),
        default=None,
        help=f"the audit budget, shared with the Python API: {PRESET_HELP} "
        f"(default: {DEFAULT_PRESET})",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the same as --preset quick: a fast, rougher report",
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
    report.add_argument(
        "--data",
        required=True,
        metavar="FILE.csv",
        help="UTF-8 CSV file, gzip-compressed (.csv.gz) or not, or a .parquet file",
    )
    report.add_argument("--target", required=True, metavar="COLUMN", help="the label column")
    report.add_argument(
        "--teacher-scores",
        metavar="COLUMN_OR_FILE",
        help="the black box's scores instead of a trained teacher: a column of FILE.csv "
        "holding, for a binary target, the probability of the label that sorts last (1 of "
        "0/1, 'yes' of no/yes); or a .csv/.npy file with one row per row of FILE.csv and "
        "one probability column per class: a .csv file's columns named by class label, a "
        ".npy file's in sorted label order",
    )
    report.add_argument(
        "--test-size",
        type=float,
        default=TEST_SIZE,
        metavar="FRACTION",
        help=f"share of rows held out for the report (default: {TEST_SIZE}); every class "
        "needs at least 5 held-out rows",
    )
    report.add_argument(
        "--na-values",
        type=_na_values_arg,
        default=[],
        metavar="LIST",
        help="comma-separated cell texts that mean 'missing', e.g. '?,n/a' (default: only "
        "empty cells are missing; NA, None or null are ordinary values)",
    )
    report.add_argument(
        "--thousands",
        type=_thousands_arg,
        default=None,
        metavar="CHAR",
        help="thousands separator inside numbers, e.g. ',' for \"1,234\" (default: none; "
        "such numbers are refused with a hint)",
    )
    report.add_argument(
        "--id-column",
        metavar="COLUMN",
        help="a column identifying each row: kept out of the features and shown with every "
        "disagreement in index.html and disagreements.csv (default: the row's line number "
        "in the file, the header being line 1)",
    )
    report.add_argument(
        "--drop",
        type=_columns_arg,
        default=[],
        metavar="LIST",
        help="comma-separated columns kept out of the features (they may still be named in "
        "--segment-columns or --protected)",
    )
    report.add_argument(
        "--segment-columns",
        type=_columns_arg,
        default=[],
        metavar="LIST",
        help="comma-separated columns whose groups get their own fidelity (e.g. 'sex,race'); "
        "they stay features unless also listed in --drop",
    )
    report.add_argument(
        "--protected",
        type=_columns_arg,
        default=[],
        metavar="LIST",
        help="comma-separated columns you mark as protected: named in the data warnings, "
        "with whether the model uses them (each must be a feature or a --segment-columns "
        "column)",
    )
    report.add_argument(
        "--image-shape",
        type=_image_shape_arg,
        default=None,
        metavar="HxW",
        help="the rows are flattened images of H x W pixels (e.g. 28x28): attributions are "
        "drawn as images",
    )
    report.add_argument(
        "--engine",
        choices=["memory", "stream", "ray"],
        default="memory",
        help="memory (default): read every row; stream: a .parquet file distilled and "
        "compared out of core on this machine; ray: the same on a Ray cluster (needs "
        'pip install "interpretable-kd[ray]")',
    )
    report.add_argument(
        "--num-workers",
        type=_positive_int_arg,
        default=2,
        metavar="N",
        help="Ray workers for --engine ray (default: 2)",
    )
    report.add_argument(
        "--address",
        default=None,
        metavar="ADDRESS",
        help="the Ray cluster for --engine ray, e.g. 'auto' (default: a local one)",
    )
    _add_common(report, None)

    commands.add_parser(
        "datasets", help="list the bundled data sets", description="List the bundled data sets."
    )
    return parser
