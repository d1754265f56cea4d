"""Where a report may be written: a new or empty directory, or an earlier report."""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..exceptions import ReportError

__all__ = ["check_output_directory", "is_report"]


def is_report(path: Path) -> bool:
    """Whether ``path`` holds a previous report: ``metrics.json`` with a schema_version.

    Parameters
    ----------
    path : Path
        A directory.

    Returns
    -------
    bool
        False when the file is missing, unreadable or not such a JSON object.
    """
    try:
        with open(path / "metrics.json", encoding="utf-8") as handle:
            content = json.load(handle)
    except (OSError, ValueError):
        return False
    return isinstance(content, dict) and "schema_version" in content


def check_output_directory(directory: str | os.PathLike[str]) -> Path:
    """Raise a ReportError unless a report may be written to ``directory``.

    Allowed: a path that does not exist yet, an empty directory, or a directory holding an
    earlier report (it will be replaced). Refused: a file, or a non-empty directory that
    is not a report.

    Parameters
    ----------
    directory : str or path-like
        The output directory.

    Returns
    -------
    Path
        ``directory`` as a Path.

    Raises
    ------
    ReportError
        ``directory`` is a file, or a non-empty directory that holds no earlier report.
    """
    path = Path(directory)
    if path.exists() and not path.is_dir():
        raise ReportError(
            f"Cannot write a report to {str(path)!r}: it is a file, not a directory. "
            "Choose another output directory."
        )
    if path.is_dir() and any(path.iterdir()) and not is_report(path):
        raise ReportError(
            f"Refusing to write a report into {str(path)!r}: the directory is not empty and "
            "does not hold an earlier report (no metrics.json with a schema_version), so "
            "its files could be lost. Choose a new or empty directory, or remove it first."
        )
    return path
