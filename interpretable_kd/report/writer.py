"""Writing a report: ``index.html``, ``figures/*.png`` and ``metrics.json``, atomically.

Everything is built in a temporary directory beside the target (same file system) and
renamed into place. A previous report there (a directory with a ``metrics.json``
carrying ``schema_version``) is replaced; any other non-empty directory is refused with a
:class:`~interpretable_kd.exceptions.ReportError`. If anything fails on the way, the
temporary directory is removed and an earlier report stays as it was.

Imports flow one way: ``numbers`` (the report object) -> ``writer`` -> ``html`` (the
page) -> ``figures`` / ``whitebox``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from . import html
from ._output import check_output_directory

__all__ = ["check_output_directory", "save_report"]


def _write_tree(report: Any, staging: Path) -> None:
    """Render the report and write its files into the empty directory ``staging``.

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
    (staging / "index.html").write_text(rendered.page, encoding="utf-8")


def save_report(report: Any, directory: str | os.PathLike[str]) -> Path:
    """Write the report into ``directory`` atomically.

    Parameters
    ----------
    report : DistillationReport
        The report to write.
    directory : str or path-like
        A new or empty directory, or one holding an earlier report (replaced). Missing
        parent directories are made, and removed again if writing fails.

    Returns
    -------
    Path
        The absolute path of ``index.html``.

    Raises
    ------
    ReportError
        ``directory`` is a file, or a non-empty directory that holds no earlier report.
    """
    target = check_output_directory(directory).absolute()
    parent = target.parent
    created = [p for p in (parent, *parent.parents) if not p.exists()]
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=parent))
    aside: Path | None = None  # where an earlier report waits until the new one is in place
    try:
        _write_tree(report, staging)
        os.chmod(staging, 0o755)
        check_output_directory(target)  # again: it may have changed while we worked
        if target.exists() and any(target.iterdir()):
            aside = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=parent))
            os.replace(target, aside / "report")
        elif target.exists():
            target.rmdir()
        try:
            os.replace(staging, target)
        except OSError:
            if aside is not None and (aside / "report").exists():
                os.replace(aside / "report", target)  # put the earlier report back
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if aside is not None and not (aside / "report").exists():
            shutil.rmtree(aside, ignore_errors=True)
        for path in created:  # directories made for this report only, innermost first
            with contextlib.suppress(OSError):
                path.rmdir()
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return target / "index.html"
