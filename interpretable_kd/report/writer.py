"""Writing a report: ``index.html``, ``figures/*.png`` and ``metrics.json``, atomically.

The steps, for a target ``<parent>/<name>``:

1. *recover*: a run killed earlier may have left ``.<name>.new-<pid>-*`` (staging) or
   ``.<name>.old-<pid>-*`` (the previous report, moved aside) beside the target. When the
   target is missing, the newest complete report moved aside is put back; then every
   staging or aside directory whose process is gone is removed.
2. *stage*: everything (``index.html``, ``figures/``, ``metrics.json``,
   ``disagreements.csv``) is written into a staging directory beside the target (same file
   system), then the marker (:data:`~._output.MARKER`: library name, report id, manifest).
3. *swap*: a previous report (only one this library provably wrote, see
   :func:`~._output.check_output_directory`) is renamed aside, the staging directory is
   renamed onto the target, the aside copy is removed. SIGINT, SIGTERM and SIGHUP are held
   back during the two renames, and any failure puts the previous report back.

A SIGKILL at any step therefore leaves the old report or the new one complete at the
target (or in an aside directory that the next run restores), never neither.

For tests, the environment variable ``INTERPRETABLE_KD_PAUSE_AT`` names a step
(``staging``, ``staged``, ``aside``, ``placed``) at which the writer prints
``paused at <step>`` on stderr and sleeps, so that a test can kill it there.

Imports flow one way: ``numbers`` (the report object) -> ``writer`` -> ``html`` (the
page) -> ``figures`` / ``whitebox``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from . import exports, html
from ._output import LIBRARY, MARKER, check_output_directory, is_report, tree_manifest

__all__ = ["check_output_directory", "recover", "save_files", "save_report"]

#: Environment variable naming a step to pause at (tests kill the process there).
PAUSE_VARIABLE = "INTERPRETABLE_KD_PAUSE_AT"
_HELD_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)


def _pause(step: str) -> None:
    """Sleep at ``step`` when the environment asks for it (tests only).

    Parameters
    ----------
    step : str

    Returns
    -------
    None
    """
    if os.environ.get(PAUSE_VARIABLE) == step:
        print(f"paused at {step}", file=sys.stderr, flush=True)
        time.sleep(3600)


def _write_tree(report: Any, staging: Path) -> None:
    """Render the report and write its files into the empty directory ``staging``:
    ``figures/*.png``, ``metrics.json``, ``disagreements.csv`` (every disagreeing row,
    :func:`~.exports.disagreements_csv`) and ``index.html``; the marker's manifest,
    written next, lists them all, so a later run may replace the directory.

    Parameters
    ----------
    report : DistillationReport
        The report to write.
    staging : Path
        An existing, empty directory.
    """
    rendered = html.render_report(report)
    figure_dir = staging / "figures"
    figure_dir.mkdir()
    for fig in rendered.figures:
        (figure_dir / fig.filename).write_bytes(fig.png)
    with open(staging / "metrics.json", "w", encoding="utf-8") as handle:
        json.dump(rendered.metrics, handle, allow_nan=False, indent=2, sort_keys=False)
        handle.write("\n")
    with open(staging / exports.DISAGREEMENTS_CSV, "w", encoding="utf-8", newline="") as handle:
        handle.write(exports.disagreements_csv(report))
    _pause("staging")
    (staging / "index.html").write_text(rendered.page, encoding="utf-8")


def _write_marker(staging: Path) -> str:
    """Write the marker (library, report id, manifest of every file in ``staging``).

    Parameters
    ----------
    staging : Path
        The finished report directory.

    Returns
    -------
    str
        The report id (a UUID4).
    """
    report_id = uuid.uuid4().hex
    content = {"library": LIBRARY, "report_id": report_id, "manifest": tree_manifest(staging)}
    with open(staging / MARKER, "w", encoding="utf-8") as handle:
        json.dump(content, handle, indent=1, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    return report_id


def _pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists.

    Parameters
    ----------
    pid : int

    Returns
    -------
    bool
    """
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _leftovers(target: Path, kind: str) -> Iterator[Path]:
    """Staging (``kind="new"``) or aside (``"old"``) directories of ``target`` whose
    writing process is gone.

    Parameters
    ----------
    target : Path
    kind : {"new", "old"}

    Returns
    -------
    iterator of Path
    """
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.{kind}-(\d+)-")
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return
    for entry in entries:
        match = pattern.match(entry.name)
        alive = match is not None and _pid_alive(int(match.group(1)))
        if match and not alive and entry.is_dir() and not entry.is_symlink():
            yield entry


def recover(directory: str | os.PathLike[str]) -> list[str]:
    """Undo what a killed run left beside ``directory``.

    When ``directory`` is missing and a complete earlier report waits in an aside
    directory, the newest such report is put back. Every staging and aside directory of
    a process that no longer exists is then removed.

    Parameters
    ----------
    directory : str or path-like
        The report's target (resolved).

    Returns
    -------
    list of str
        What was done, one sentence each (empty when nothing was left over).
    """
    target = Path(directory)
    done: list[str] = []
    asides = sorted(_leftovers(target, "old"), key=lambda p: p.stat().st_mtime, reverse=True)
    if not target.exists() and not target.is_symlink():
        for aside in asides:
            if (aside / "report").is_dir() and is_report(aside / "report"):
                os.replace(aside / "report", target)
                done.append(f"restored the earlier report at {str(target)!r} from {aside.name}")
                break
    for leftover in [*asides, *_leftovers(target, "new")]:
        shutil.rmtree(leftover, ignore_errors=True)
        if not leftover.exists():
            done.append(f"removed {leftover.name}, left by an interrupted run")
    return done


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP back for the duration (main thread, POSIX only).

    Returns
    -------
    context manager
        Pending signals are delivered on exit.
    """
    can = (
        hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    )
    if not can:
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _remove_created(created: Iterable[Path]) -> None:
    """Remove directories made for this report, innermost first, if still empty.

    Parameters
    ----------
    created : iterable of Path

    Returns
    -------
    None
    """
    for path in created:
        with contextlib.suppress(OSError):
            path.rmdir()


def save_report(
    report: Any,
    directory: str | os.PathLike[str],
    protect: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Write the report into ``directory`` atomically.

    Parameters
    ----------
    report : DistillationReport
        The report to write.
    directory : str or path-like
        A new or empty directory, or one holding an earlier report this library wrote
        (replaced). Missing parent directories are made, and removed again if writing
        fails. Symbolic links are followed and ``..`` resolved first.
    protect : iterable of path-like, default=()
        Input files whose directories must never be replaced (the working directory
        always is protected).

    Returns
    -------
    Path
        The absolute path of ``index.html``.

    Raises
    ------
    ReportError
        ``directory`` is a file, a protected directory, or a non-empty directory that is
        not provably a report this library wrote.
    """
    return _save(lambda staging: _write_tree(report, staging), directory, protect)


def save_files(
    files: Mapping[str, str | bytes],
    directory: str | os.PathLike[str],
    protect: Iterable[str | os.PathLike[str]] = (),
) -> Path:
    """Write a report made of ready files (e.g. ``metrics.json`` and ``index.html`` of a
    streaming comparison) into ``directory``, atomically, with the marker and manifest.

    Parameters
    ----------
    files : mapping of str to str or bytes
        File name (no directory part) -> content; text is written as UTF-8. Must hold
        ``index.html``.
    directory : str or path-like
        As in :func:`save_report`.
    protect : iterable of path-like, default=()
        As in :func:`save_report`.

    Returns
    -------
    Path
        The absolute path of ``index.html``.

    Raises
    ------
    ValueError
        No ``index.html``, or a name with a directory part.
    ReportError
        As in :func:`save_report`.
    """
    if "index.html" not in files:
        raise ValueError("save_files needs an 'index.html' among the files.")
    for name in files:
        if Path(name).name != name or name in ("", ".", "..", MARKER):
            raise ValueError(f"save_files needs plain file names; got {name!r}.")

    def write(staging: Path) -> None:
        for name, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            (staging / name).write_bytes(data)

    return _save(write, directory, protect)


def _save(
    write: Callable[[Path], None],
    directory: str | os.PathLike[str],
    protect: Iterable[str | os.PathLike[str]],
) -> Path:
    """Stage with ``write``, add the marker, swap into place (see the module's steps).

    Parameters
    ----------
    write : callable
        ``write(staging)`` fills the empty staging directory.
    directory, protect
        As in :func:`save_report`.

    Returns
    -------
    Path
        The absolute path of ``index.html``.
    """
    protect = list(protect)
    target = check_output_directory(directory, protect)
    parent = target.parent
    created = [p for p in (parent, *parent.parents) if not p.exists()]
    parent.mkdir(parents=True, exist_ok=True)
    recover(target)
    pid = os.getpid()
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-{pid}-", dir=parent))
    aside: Path | None = None  # where an earlier report waits until the new one is in place
    try:
        write(staging)
        _write_marker(staging)
        os.chmod(staging, 0o755)
        _pause("staged")
        check_output_directory(directory, protect)  # again: it may have changed meanwhile
        with _signals_held():
            if target.exists() and any(target.iterdir()):
                aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-{pid}-", dir=parent))
                os.replace(target, aside / "report")
            elif target.exists():
                target.rmdir()
            _pause("aside")
            os.replace(staging, target)
        _pause("placed")
    except BaseException:
        with _signals_held():
            if aside is not None and (aside / "report").exists() and not target.exists():
                os.replace(aside / "report", target)  # put the earlier report back
            shutil.rmtree(staging, ignore_errors=True)
            if aside is not None and not (aside / "report").exists():
                shutil.rmtree(aside, ignore_errors=True)
            _remove_created(created)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return target / "index.html"
