"""Where a report may be written, and how to recognise a report this library wrote.

A report directory carries a marker file, :data:`MARKER` (JSON: the library's name, a
report id and a manifest of every file the report wrote with its size and SHA-256). A
directory is *provably* a report only when the marker is valid and the directory holds
exactly the manifest's files, unchanged. Only such a directory is ever replaced; any other
non-empty directory is refused, and so are the current working directory, the directory
of an input file and every parent of either.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._validation import format_items
from ..exceptions import ReportError

__all__ = [
    "LIBRARY",
    "MARKER",
    "check_output_directory",
    "is_report",
    "report_problem",
    "resolve_output",
    "tree_manifest",
]

#: The marker file of a report directory.
MARKER = ".interpretable-kd-report.json"
#: The library name the marker must carry.
LIBRARY = "interpretable_kd"


def _digest(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks.

    Parameters
    ----------
    path : Path

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    h = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def tree_manifest(root: Path) -> dict[str, dict[str, Any]]:
    """Every entry under ``root`` except the marker: relative POSIX path -> kind, size, hash.

    Parameters
    ----------
    root : Path
        A directory.

    Returns
    -------
    dict
        ``{"figures": {"kind": "dir"}, "index.html": {"kind": "file", "size": n,
        "sha256": hex}, ...}``; symbolic links and other entries get ``{"kind": "other"}``.
    """
    entries: dict[str, dict[str, Any]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            full = Path(dirpath) / name
            rel = full.relative_to(root).as_posix()
            if rel == MARKER:
                continue
            if full.is_symlink():
                entries[rel] = {"kind": "other"}
            elif full.is_dir():
                entries[rel] = {"kind": "dir"}
            elif full.is_file():
                entries[rel] = {
                    "kind": "file",
                    "size": full.stat().st_size,
                    "sha256": _digest(full),
                }
            else:
                entries[rel] = {"kind": "other"}
    return entries


def report_problem(path: Path) -> str | None:
    """Why ``path`` is not provably a report this library wrote, or None when it is.

    Parameters
    ----------
    path : Path
        A directory.

    Returns
    -------
    str or None
        A short reason ("no marker file ...", "files it did not write: notes.txt", ...).
    """
    try:
        with open(path / MARKER, encoding="utf-8") as handle:
            marker = json.load(handle)
    except FileNotFoundError:
        return f"it is not empty and has no {MARKER} marker, so interpretable_kd did not write it"
    except (OSError, ValueError):
        return f"its {MARKER} marker is unreadable"
    if (
        not isinstance(marker, dict)
        or marker.get("library") != LIBRARY
        or not isinstance(marker.get("report_id"), str)
        or not isinstance(marker.get("manifest"), dict)
    ):
        return f"its {MARKER} marker is not one interpretable_kd wrote"
    try:
        present = tree_manifest(path)
    except OSError as exc:
        return f"it cannot be listed ({exc.strerror or exc})"
    expected: dict[str, Any] = marker["manifest"]
    extra = sorted(set(present) - set(expected))
    if extra:
        return f"it holds files the report did not write: {format_items(extra, 5)}"
    missing = sorted(set(expected) - set(present))
    changed = sorted(k for k in set(expected) & set(present) if expected[k] != present[k])
    if missing or changed:
        return (
            "its files were changed after the report was written: "
            f"{format_items([*changed, *missing], 5)}"
        )
    return None


def is_report(path: Path) -> bool:
    """Whether ``path`` is provably a report this library wrote (see :func:`report_problem`).

    Parameters
    ----------
    path : Path
        A directory.

    Returns
    -------
    bool
    """
    return report_problem(path) is None


def resolve_output(directory: str | os.PathLike[str]) -> Path:
    """The absolute output path, symbolic links resolved and ``..`` removed.

    ``a/b/../../x`` becomes ``<cwd>/x`` (no ``a/b`` is created); a link to a directory
    becomes that directory.

    Parameters
    ----------
    directory : str or path-like

    Returns
    -------
    Path

    Raises
    ------
    ReportError
        ``directory`` is an empty string or a dangling symbolic link.
    """
    text = os.fspath(directory)
    if not str(text).strip():
        raise ReportError(
            "The output directory is an empty string; pass a directory name, e.g. --out report."
        )
    path = Path(text)
    if path.is_symlink() and not path.exists():
        raise ReportError(
            f"Cannot write a report to {str(path)!r}: it is a symbolic link to "
            f"{os.readlink(path)!r}, which does not exist. Remove the link or point it at a "
            "directory."
        )
    return Path(os.path.realpath(path))


def _protected(extra: Iterable[str | os.PathLike[str]]) -> list[tuple[Path, str]]:
    """Directories a report must never replace: the working directory and every input's.

    Parameters
    ----------
    extra : iterable of path-like
        Input files (their directories are protected) or directories.

    Returns
    -------
    list of (Path, str)
        Resolved directory and how messages name it.
    """
    found = [(Path(os.path.realpath(os.getcwd())), "the current working directory")]
    for item in extra:
        p = Path(os.path.realpath(item))
        found.append((p if p.is_dir() else p.parent, f"the directory of the input {str(item)!r}"))
    return found


def check_output_directory(
    directory: str | os.PathLike[str], protect: Iterable[str | os.PathLike[str]] = ()
) -> Path:
    """Raise a ReportError unless a report may be written to ``directory``.

    Allowed: a path that does not exist yet, an empty directory, or a directory that is
    provably a report this library wrote (it will be replaced). Refused: a file; a
    non-empty directory that is not such a report (no marker, a file the report did not
    write, a changed file); the current working directory, the directory of any input in
    ``protect``, or any parent of them.

    Parameters
    ----------
    directory : str or path-like
        The output directory.
    protect : iterable of path-like, default=()
        Input files or directories that must survive (e.g. ``--data``).

    Returns
    -------
    Path
        ``directory`` resolved (absolute, links followed, no ``..``).

    Raises
    ------
    ReportError
        With one line naming the directory, the reason and the fix.
    """
    path = resolve_output(directory)
    shown = str(directory)
    for guarded, what in _protected(protect):
        if path == guarded or path in guarded.parents:
            raise ReportError(
                f"Refusing to write a report to {shown!r}: it is {what} or a parent of it, "
                "which a report must never replace. Choose a new directory, e.g. --out report."
            )
    if path.exists() and not path.is_dir():
        raise ReportError(
            f"Cannot write a report to {shown!r}: it is a file, not a directory. "
            "Choose another output directory."
        )
    if path.is_dir():
        try:
            empty = not any(path.iterdir())
        except OSError as exc:
            raise ReportError(
                f"Cannot write a report to {shown!r}: {exc.strerror or exc}."
            ) from exc
        if not empty:
            problem = report_problem(path)
            if problem is not None:
                raise ReportError(
                    f"Refusing to replace {shown!r}: {problem}; its files could be lost. "
                    "Choose a new or empty directory, or move those files out first."
                )
    return path
