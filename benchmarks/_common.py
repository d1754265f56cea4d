"""Helpers shared by the benchmark scripts: timing, memory, confidence intervals, output
files (CSV, markdown, PNG) and a description of the machine and the package versions.

Everything a benchmark writes goes into ``reports/benchmarks/`` (``OUT_DIR``); a quick run
writes the same files with a ``_quick`` suffix, so it never overwrites the full results.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import math
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "OUT_DIR",
    "REPO_ROOT",
    "SHARED_MACHINE_NOTE",
    "Stopwatch",
    "current_rss_mb",
    "hwm_rss_mb",
    "machine_info",
    "machine_line",
    "markdown_table",
    "mean_ci",
    "median_time",
    "package_versions",
    "peak_rss_mb",
    "pyplot",
    "relative",
    "reset_peak_rss",
    "save_figure",
    "set_threads",
    "stem",
    "traced_peak",
    "write_csv",
    "write_json",
    "write_markdown",
]

REPO_ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = REPO_ROOT / "reports" / "benchmarks"

SHARED_MACHINE_NOTE = (
    "The machine was shared with other jobs while this ran, so single timings are noisy; "
    "timings are medians."
)

_PACKAGES = (
    "interpretable-kd",
    "torch",
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "shap",
    "matplotlib",
    "interpret-core",
)


# --------------------------------------------------------------------------- set-up
def set_threads(n_threads: int = 1) -> None:
    """Run torch on ``n_threads`` threads. On two busy cores, one thread trained these
    small networks several times faster than two (measured while writing the suite)."""
    import torch

    torch.set_num_threads(n_threads)


def stem(name: str, quick: bool) -> str:
    """File stem of a benchmark's outputs: ``name`` or ``name_quick``."""
    return f"{name}_quick" if quick else name


# --------------------------------------------------------------------------- timing
class Stopwatch:
    """Wall-clock seconds of a ``with`` block: ``with Stopwatch() as sw: ...; sw.seconds``."""

    seconds: float = math.nan

    def __enter__(self) -> Stopwatch:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


def median_time(function: Callable[[], Any], repeats: int) -> tuple[float, list[float], Any]:
    """Call ``function`` ``repeats`` times; return the median wall-clock seconds, every
    timing, and the last result."""
    timings, result = [], None
    for _ in range(max(1, repeats)):
        with Stopwatch() as sw:
            result = function()
        timings.append(sw.seconds)
    return statistics.median(timings), timings, result


# --------------------------------------------------------------------------- memory
def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (``getrusage``; Linux reports
    kilobytes, macOS bytes). See :func:`reset_peak_rss`."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def current_rss_mb() -> float:
    """This process's resident set size now, in MiB (``/proc/self/statm`` on Linux, else
    the peak as an upper bound)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return peak_rss_mb()
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (``VmHWM``) to the current RSS, so that a later
    ``/proc/self/status`` read measures only what follows. Linux only; returns False
    where this is not possible (then use a fresh process per measurement)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def hwm_rss_mb() -> float:
    """Peak RSS since the last :func:`reset_peak_rss` (``VmHWM``), in MiB; falls back to
    :func:`peak_rss_mb`."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mb()


@contextlib.contextmanager
def traced_peak() -> Iterator[dict[str, float]]:
    """Peak bytes allocated by Python and NumPy inside the block (``tracemalloc``), in MiB,
    written to the yielded dict under ``"peak_mb"``. Torch's own allocator is not seen."""
    import tracemalloc

    result: dict[str, float] = {}
    tracemalloc.start()
    try:
        yield result
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        result["peak_mb"] = peak / 2**20


# --------------------------------------------------------------------------- statistics
def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided t interval of the mean: ``mean ± t_{n-1} * s / sqrt(n)``.

    NaNs are dropped. With one value the interval is (nan, nan).
    """
    from scipy import stats

    array = np.asarray(values, dtype=np.float64)
    array = array[np.isfinite(array)]
    if array.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(array.mean())
    if array.size < 2:
        return mean, math.nan, math.nan
    half = float(
        stats.t.ppf(0.5 + confidence / 2, array.size - 1)
        * array.std(ddof=1)
        / math.sqrt(array.size)
    )
    return mean, mean - half, mean + half


# --------------------------------------------------------------------------- machine
def package_versions() -> dict[str, str]:
    """Installed versions of the packages the benchmarks use (absent ones omitted)."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return versions


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _memory_gb() -> float:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 2**20
    return math.nan


def machine_info() -> dict[str, Any]:
    """CPU, core count, memory, OS and torch threads, for the reports."""
    import torch

    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(_memory_gb(), 1),
        "os": f"{platform.system()} {platform.release()}",
        "torch_threads": torch.get_num_threads(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }


def machine_line() -> str:
    """One sentence on the machine, for the top of a markdown report."""
    info = machine_info()
    return (
        f"{info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB RAM, {info['os']}, "
        f"torch {package_versions().get('torch', '?')}; 1-minute load average "
        f"{info['load_average_1min']} when the report was written (2 = both cores busy). "
        + SHARED_MACHINE_NOTE
    )


# --------------------------------------------------------------------------- output
def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.6g")
    return path


def write_json(data: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n", encoding="utf-8")
    return path


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_markdown(lines: Sequence[str], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    return path


def markdown_table(
    frame: pd.DataFrame, formats: dict[str, str] | None = None, align_right: bool = True
) -> list[str]:
    """A GitHub markdown table of ``frame``; ``formats`` maps a column to a format spec
    (``"{:.3f}"``) or a callable. NaN shows as an en dash."""
    formats = formats or {}
    columns = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(columns) + " |"]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    lines.append("|" + "|".join("---:" if (n and align_right) else "---" for n in numeric) + "|")
    for _, row in frame.iterrows():
        cells = []
        for column in frame.columns:
            value = row[column]
            fmt = formats.get(str(column))
            if isinstance(value, float) and math.isnan(value):
                cells.append("–")
            elif callable(fmt):
                cells.append(str(fmt(value)))
            elif fmt is not None:
                cells.append(fmt.format(value))
            else:
                cells.append(str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def save_figure(fig: Any, path: Path) -> Path:
    """Save a matplotlib figure as PNG and close it."""
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def relative(path: Path) -> str:
    """``path`` relative to the repository root, for printing."""
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(REPO_ROOT))
    return str(path)
