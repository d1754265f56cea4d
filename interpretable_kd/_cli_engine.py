"""``interpretable-kd report --engine stream|ray``: distil and compare out of core.

The rows never sit in memory together. An MLP teacher is trained on a seeded uniform
sample of the Parquet file (at most ``STREAM_SAMPLE_ROWS`` rows, in memory); each student
is distilled from the whole file by :func:`interpretable_kd.distributed.fit_streaming`
(``stream``, one machine) or :func:`~interpretable_kd.distributed.fit_ray` (``ray``), and
compared with the teacher over every row by ``compare_streaming`` / ``compare_ray``
(exact mergeable sums; bootstrap intervals on a uniform row sample). The report is the
full :class:`~interpretable_kd.report.DistillationReport`
(:func:`~interpretable_kd.distributed._report.streamed_report`): the streamed numbers over
all rows, everything that needs rows (attributions, headline numbers, figures) on another
seeded uniform sample of ``STREAM_SAMPLE_ROWS`` rows, each labelled with its rows;
``metrics.json`` keeps each student's ``StreamingComparison.to_dict()`` under
``config["streamed"]``. Written atomically like every report. No accuracy out of core (the
sample report is made without labels).

There is no held-out split out of core: the comparison covers the rows the students were
distilled on, and both files say so. ``--temperature auto`` is not available out of core
(T = 1 is used and recorded).
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._defaults import STREAM_SAMPLE_ROWS, TEMPERATURE, Preset
from ._validation import did_you_mean, format_items
from .datasets.csv import read_labels
from .exceptions import InputError, ParameterError
from .report.numbers import SCHEMA_VERSION
from .report.writer import save_files, save_report
from .students import REGISTRY
from .teachers import MLPTeacher

__all__ = ["ENGINES", "run_scaled"]

#: ``--engine`` choices: in memory (the default), streamed on one machine, on Ray.
ENGINES = ("memory", "stream", "ray")
#: What the out-of-core report says about its rows.
NO_HOLDOUT = (
    "Out of core there is no held-out split: the students are distilled on every row of "
    "the file and compared with the teacher on the same rows, so fidelity here is "
    "agreement on the transfer set."
)
#: Flags of the in-memory report that the out-of-core engines do not take.
_MEMORY_ONLY = ("teacher_scores", "id_column", "segment_columns", "protected", "image_shape")


def check_engine(args: argparse.Namespace) -> None:
    """Refuse what ``--engine stream|ray`` cannot do, before any work.

    Parameters
    ----------
    args : argparse.Namespace

    Returns
    -------
    None

    Raises
    ------
    ParameterError
        Ray not installed for ``--engine ray``, a CSV file, or an in-memory-only flag.
    """
    engine = args.engine
    if engine == "ray" and importlib.util.find_spec("ray") is None:
        raise ParameterError(
            '--engine ray needs Ray, which is not installed: pip install "interpretable-kd[ray]"'
            ", or use --engine stream (out of core on one machine)."
        )
    path = Path(args.data)
    if not (path.suffix.lower() == ".parquet" or path.is_dir()):
        raise ParameterError(
            f"--engine {engine} streams a Parquet file or directory; got --data "
            f"{str(path)!r}. Convert it (pandas.read_csv(...).to_parquet('data.parquet')) "
            "or use --engine memory."
        )
    given = [name for name in _MEMORY_ONLY if getattr(args, name, None) not in (None, [])]
    if given:
        flags = ", ".join("--" + name.replace("_", "-") for name in given)
        raise ParameterError(
            f"--engine {engine} does not take {flags} (in-memory reports only); leave "
            "them out or use --engine memory."
        )


def _sample(dataset: Any, columns: list[str], n_rows: int, seed: int) -> pd.DataFrame:
    """A seeded uniform sample of at most ``STREAM_SAMPLE_ROWS`` rows, in file order.

    Parameters
    ----------
    dataset : pyarrow.dataset.Dataset
    columns : list of str
    n_rows : int
        Rows of the dataset.
    seed : int

    Returns
    -------
    pandas.DataFrame
    """
    size = min(n_rows, STREAM_SAMPLE_ROWS)
    rows = np.sort(np.random.default_rng(seed).choice(n_rows, size=size, replace=False))
    from .distributed._arrow import bounded_take  # no pre-buffering: memory ~ the sample

    return bounded_take(dataset, rows, columns).to_pandas()


def _columns(dataset: Any, args: argparse.Namespace, path: Path) -> list[str]:
    """The feature columns: every column but the target and ``--drop``, all numeric.

    Parameters
    ----------
    dataset : pyarrow.dataset.Dataset
    args : argparse.Namespace
    path : pathlib.Path

    Returns
    -------
    list of str
    """
    import pyarrow.types as pat

    names = list(dataset.schema.names)
    for flag, wanted in (("--target", [args.target]), ("--drop", list(args.drop))):
        for name in wanted:
            if name not in names:
                raise InputError(
                    f"{flag} {name!r} is not a column of {str(path)!r}; its columns are "
                    f"{format_items(names, 8)}.{did_you_mean(name, names)}"
                )
    features = [n for n in names if n != args.target and n not in args.drop]
    if not features:
        raise InputError(f"{str(path)!r} has no feature columns besides the target.")
    text = [
        n
        for n in features
        if not (pat.is_integer(t := dataset.schema.field(n).type) or pat.is_floating(t))
        and not pat.is_boolean(t)
    ]
    if text:
        raise InputError(
            f"--engine {args.engine} needs numeric feature columns; {format_items(text)} of "
            f"{str(path)!r} {'is' if len(text) == 1 else 'are'} not. Encode them as numbers "
            "in the Parquet file, --drop them, or use --engine memory."
        )
    return features


def run_scaled(
    args: argparse.Namespace,
    preset: Preset,
    config: dict[str, Any],
    protect: list[Any],
    steps: Any,
) -> tuple[Path, str]:
    """Distil and compare out of core, write ``metrics.json`` and ``index.html``.

    Parameters
    ----------
    args : argparse.Namespace
        The report command's arguments (``engine``, ``num_workers``, ``address``...).
    preset : Preset
        Its ``n_bootstrap`` and epoch budgets are used.
    config : dict
        The run's configuration, stored in ``metrics.json``.
    protect : list of path-like
        Input files whose directories must not be replaced.
    steps : Steps
        Progress.

    Returns
    -------
    path : pathlib.Path
        The report's ``index.html``.
    summary : str
        What the command prints.
    """
    from . import distributed
    from .distributed._report import streamed_report

    path = Path(args.data)
    try:
        import pyarrow.dataset as ds
    except ImportError:
        raise InputError(
            f'--engine {args.engine} needs pyarrow: pip install "interpretable-kd[ray]".'
        ) from None
    steps.start(f"sampling {path.name}")
    dataset = ds.dataset(str(path), format="parquet")
    features = _columns(dataset, args, path)
    n_rows = dataset.count_rows()
    sample = _sample(dataset, [*features, args.target], n_rows, args.seed)
    keep, y = read_labels(sample[args.target], path, args.target)
    steps.done()
    steps.start("training the MLP teacher on the sample")
    epochs: dict[str, Any] = (
        {} if preset.teacher_epochs == "auto" else {"max_epochs": preset.teacher_epochs}
    )
    teacher = MLPTeacher(random_state=args.seed, n_jobs=args.n_jobs, **epochs).fit(
        sample.loc[keep.to_numpy(), features].reset_index(drop=True), y
    )
    steps.done()
    temperature = TEMPERATURE if args.temperature == "auto" else float(args.temperature)
    student_epochs = None if preset.student_epochs == "auto" else preset.student_epochs
    ray: dict[str, Any] = {"num_workers": args.num_workers, "address": args.address}

    def show(line: str) -> None:
        """Rows scored and compared (rows/s), each epoch: lines under the step."""
        steps.note(f"{steps.prog}:   {line}")

    results: dict[str, dict[str, Any]] = {}
    fitted_students: dict[str, Any] = {}
    comparisons: dict[str, Any] = {}
    for name in args.students:
        kind = REGISTRY[name]
        if getattr(kind.estimator, "_fits_on_all_rows", False):
            steps.note(
                f"skipped the {kind.label}: it fits its basis on all rows at once and cannot "
                "be trained out of core (distil it in memory on a sample)"
            )
            continue
        steps.start(f"distilling the {kind.label} ({args.engine})")
        student = kind.make(random_state=args.seed)
        common: dict[str, Any] = {"teacher": teacher, "features": features, "verbose": show}
        common |= {"temperature": temperature, "epochs": student_epochs, "random_state": args.seed}
        if args.engine == "ray":
            fitted = distributed.fit_ray(student, str(path), **common, **ray)
            comparison = distributed.compare_ray(
                teacher, fitted, str(path), features=features, n_bootstrap=preset.n_bootstrap,
                random_state=args.seed, verbose=show, **ray,
            )  # fmt: skip
        else:
            fitted = distributed.fit_streaming(student, str(path), **common)
            comparison = distributed.compare_streaming(
                teacher, fitted, str(path), features=features, n_bootstrap=preset.n_bootstrap,
                random_state=args.seed, verbose=show,
            )  # fmt: skip
        results[kind.label] = {**comparison.to_dict(), "temperature": temperature}
        fitted_students[kind.label], comparisons[kind.label] = fitted, comparison
        steps.done()
    steps.start(f"writing the report (attributions on a sample of {STREAM_SAMPLE_ROWS:,} rows)")
    metrics = {
        "schema_version": SCHEMA_VERSION,
        "engine": args.engine,
        "dataset": {
            "name": path.name,
            "n_rows": int(n_rows),
            "n_features": len(features),
            "features": features,
            "note": NO_HOLDOUT,
        },
        "teacher": {"kind": "MLPTeacher", "trained_on_sample_rows": len(y)},
        "students": results,
        "budget": {"preset": preset.name, "n_bootstrap": preset.n_bootstrap},
        "config": {**config, "engine": args.engine, "chosen_temperature": temperature},
    }
    if not fitted_students:  # every student skipped: the short page says so
        text = json.dumps(metrics, allow_nan=False, indent=2) + "\n"
        out = save_files({"metrics.json": text, "index.html": page(metrics)}, args.out, protect)
        steps.done()
        return out, summary(metrics, out)
    report = streamed_report(
        teacher,
        fitted_students,
        str(path),
        features=features,
        comparisons=comparisons,
        engine=args.engine,
        sample_rows=STREAM_SAMPLE_ROWS,
        preset=preset.name,
        n_bootstrap=preset.n_bootstrap,
        dataset_name=path.name,
        config={**metrics["config"], "streamed": results, "teacher_sample_rows": len(y)},
        random_state=args.seed + 1,  # not the teacher's training sample
        **ray,
    )
    report.dataset["note"] = NO_HOLDOUT
    report.extra["row_scope"] = f"{report.extra['row_scope']} {NO_HOLDOUT}"
    out = save_report(report, args.out, protect)
    steps.done()
    return out, summary(metrics, out)


def _cell(value: Any) -> str:
    """A table cell: a number with 4 decimals, anything else as escaped text.

    Parameters
    ----------
    value : object

    Returns
    -------
    str
    """
    if isinstance(value, float):
        return f"{value:.4f}"
    return html.escape(str(value))


def page(metrics: dict[str, Any]) -> str:
    """The out-of-core report's HTML page: every value escaped, no script.

    Parameters
    ----------
    metrics : dict
        The ``metrics.json`` content.

    Returns
    -------
    str
    """
    data = metrics["dataset"]
    sampled = metrics["teacher"]["trained_on_sample_rows"]
    title = html.escape(f"interpretable-kd: {data['name']} ({metrics['engine']} engine)")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{title}</title></head><body>",
        f"<h1>{title}</h1>",
        f"<p>{_cell(data['n_rows'])} rows, {_cell(data['n_features'])} features; teacher: "
        f"MLPTeacher trained on a uniform sample of {_cell(sampled)} rows; preset "
        f"{_cell(metrics['budget']['preset'])}.</p>",
        f"<p>{_cell(data['note'])}</p>",
        "<table><tr><th>student</th><th>fidelity</th><th>95% interval (row sample)</th>"
        "<th>per-class fidelity</th><th>KL</th><th>JS</th><th>TV</th><th>T</th></tr>",
    ]
    for name, r in metrics["students"].items():
        low, high = r["intervals"].get("fidelity", [float("nan")] * 2)
        per_class = "; ".join(f"{k}: {v:.4f}" for k, v in r["per_class_fidelity"].items())
        cells = [name, r["fidelity"], f"[{low:.4f}, {high:.4f}]", per_class]
        cells += [r["kl_divergence"], r["js_distance"], r["total_variation"], r["temperature"]]
        parts.append("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in cells) + "</tr>")
    parts += ["</table>", "<p>Every number is in metrics.json.</p>", "</body></html>", ""]
    return "\n".join(parts)


def summary(metrics: dict[str, Any], path: Path) -> str:
    """What the command prints after an out-of-core run.

    Parameters
    ----------
    metrics : dict
    path : pathlib.Path
        The report's ``index.html``.

    Returns
    -------
    str
    """
    data = metrics["dataset"]
    lines = [
        f"Report written to {path}",
        f"  {data['name']}: {data['n_rows']} rows, {data['n_features']} features "
        f"({metrics['engine']} engine, preset {metrics['budget']['preset']}); "
        "compared on the transfer rows (no held-out split out of core)",
    ]
    width = max(len(name) for name in metrics["students"])
    for name, r in metrics["students"].items():
        low, high = r["intervals"].get("fidelity", [float("nan")] * 2)
        lines.append(
            f"  {name:<{width}}  fidelity {r['fidelity']:.3f} [{low:.3f}, {high:.3f}]  "
            f"KL {r['kl_divergence']:.4f}  T {r['temperature']:g}"
        )
    lines.append(f"  also: {path.parent / 'metrics.json'}")
    return "\n".join(lines)
