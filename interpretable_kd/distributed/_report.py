"""The full :class:`~interpretable_kd.report.DistillationReport` of a comparison at scale.

Out of core the report's numbers come from two places, and the report says which is which:

* **over all N rows** (exact, streamed): fidelity, per-class fidelity, the agreement
  matrix and the mean KL / JS / TV, from the mergeable sums of
  :func:`~interpretable_kd.distributed.compare_streaming` or
  :func:`~interpretable_kd.distributed.compare_ray`; the fidelity interval is the
  percentile bootstrap on their uniform reservoir sample of rows;
* **over a uniform sample of n rows** (seeded, drawn without replacement, in memory):
  everything that needs the rows themselves -- attributions and their agreement, the
  noise floor, the headline numbers with their intervals (majority baseline, kappa,
  balanced and worst-class fidelity, hence the verdict), accuracy, the disagreements,
  where not to trust the students, the readable views and every figure. These are what
  :meth:`DistillationReport.from_models` computes on the sample. With ``engine="ray"``
  every attribution call of that audit runs as Ray tasks (:func:`explain_ray` through
  :func:`~interpretable_kd.attributions.explain_backend`), chunks of rows in parallel.

:func:`streamed_report` runs ``from_models`` on the sample, then replaces each
student's sample-based fidelity, per-class fidelity, agreement matrix and KL / JS / TV
with the streamed values, and records the scope of every number in ``dataset``
(``n_rows`` = N, ``sample_rows`` = n), ``config["row_scope"]`` (hence ``metrics.json``)
and ``extra["row_scope"]`` (a sentence at the top of the HTML page).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from .._defaults import DEFAULT_PRESET, PRESETS, STREAM_SAMPLE_ROWS
from .._validation import check_choice, check_number
from ..attributions import Attributions, explain, explain_backend
from ..exceptions import InputError
from ..report import DistillationReport
from ._arrow import SourceSpec, open_source
from .reductions import StreamingComparison, compare_streaming

__all__ = ["OVER_ALL_ROWS", "OVER_SAMPLE", "streamed_report", "uniform_sample"]

#: What a streamed report computes over every row of the source (exact sums).
OVER_ALL_ROWS = (
    "fidelity",
    "per_class_fidelity",
    "agreement_matrix",
    "kl_divergence",
    "js_distance",
    "total_variation",
)
#: What it computes over the uniform row sample.
OVER_SAMPLE = (
    "fidelity_ci (bootstrap on the comparison's reservoir sample)",
    "headline (majority baseline, kappa, balanced and worst-class fidelity, verdict)",
    "accuracy and calibration",
    "attributions, attribution agreement and the noise floor",
    "disagreements and where not to trust",
    "figures",
)
#: ``engine`` values.
ENGINES = ("stream", "ray")


def uniform_sample(spec: SourceSpec, n_rows: int, seed: int) -> pd.DataFrame:
    """A seeded uniform sample of rows, without replacement, in file order.

    Row indices ``sort(choice(N, n, replace=False))`` with ``n = min(n_rows, N)``; only
    those rows are read (:meth:`SourceSpec.take`: no pre-buffering, no read-ahead
    past one batch), so memory is O(n * columns).

    Parameters
    ----------
    spec : SourceSpec
        The opened source (its features and label are read).
    n_rows : int
        Rows wanted.
    seed : int
        Seeds the draw.

    Returns
    -------
    pandas.DataFrame of shape (min(n_rows, N), n_features [+ 1])
        The feature columns (and the label column).
    """
    size = min(int(n_rows), spec.n_rows)
    rows = np.sort(np.random.default_rng(seed).choice(spec.n_rows, size=size, replace=False))
    columns = [*spec.features, *([spec.label] if spec.label else [])]
    frame = spec.take(rows, columns=columns).to_pandas()
    return frame.reset_index(drop=True)


def streamed_report(
    teacher: Any,
    students: Mapping[str, Any],
    source: Any,
    *,
    features: list[str] | None = None,
    label: str | None = None,
    comparisons: Mapping[str, StreamingComparison] | None = None,
    engine: str = "stream",
    num_workers: int = 2,
    address: str | None = None,
    sample_rows: int = STREAM_SAMPLE_ROWS,
    preset: str = DEFAULT_PRESET,
    n_bootstrap: int | None = None,
    dataset_name: str = "data",
    config: Mapping[str, Any] | None = None,
    random_state: int = 0,
    verbose: bool | Callable[[str], None] = False,
    **report_kwargs: Any,
) -> DistillationReport:
    """The full report of teacher vs students over a Parquet source too large for memory.

    Streamed over all N rows: fidelity, per-class fidelity, agreement matrix, KL / JS / TV
    (exact); on a uniform sample of ``n = min(sample_rows, N)`` rows: everything else
    (see the module docstring). The report's ``config["row_scope"]`` lists both.

    Parameters
    ----------
    teacher : object
        Any model :func:`~interpretable_kd.as_teacher` accepts.
    students : mapping of str to object
        Name -> fitted student (or ``DistilledClassifier``).
    source : str, os.PathLike, list of paths or pyarrow.dataset.Dataset
        The rows (for ``engine="ray"``, files every worker can read).
    features : list of str, optional
        Feature columns in the models' order; default all but ``label``.
    label : str, optional
        Column of true labels (the teacher's label space): accuracy on the sample.
    comparisons : mapping of str to StreamingComparison, optional
        Already computed streamed comparisons, one per student (e.g. from a CLI run);
        default: computed here with ``engine``.
    engine : {"stream", "ray"}
        ``compare_streaming`` on this machine, or ``compare_ray``.
    num_workers, address : optional
        Ray actors and cluster address (``engine="ray"``).
    sample_rows : int
        n, the rows drawn for what needs rows.
    preset : {"quick", "standard", "thorough"}
        The audit budget of the sample's report (and of the bootstrap).
    n_bootstrap : int, optional
        Resamples of every interval; default the preset's.
    dataset_name : str
        Shown in the report.
    config : mapping, optional
        Recorded in ``metrics.json``.
    random_state : int
        Seeds the sample (with ``random_state``), the streamed reservoir and the report.
    verbose : bool or callable
        Progress of the streamed comparison (a callable receives the lines).
    **report_kwargs
        Further arguments of :meth:`DistillationReport.from_models` (e.g.
        ``explain_rows``, ``class_names``).

    Returns
    -------
    DistillationReport
        ``dataset["n_rows"]`` is N and ``dataset["sample_rows"]`` n.

    Raises
    ------
    ParameterError
        An unknown engine or preset, or a non-positive ``sample_rows``.
    InputError
        ``comparisons`` missing a student, or computed with other classes than the
        teacher's.
    """
    owner = "streamed_report"
    engine = check_choice(engine, "engine", owner, ENGINES)
    preset = check_choice(preset, "preset", owner, tuple(PRESETS))
    sample_rows = check_number(sample_rows, "sample_rows", owner, integer=True, low=1)
    n_boot = PRESETS[preset].n_bootstrap if n_bootstrap is None else n_bootstrap
    spec = open_source(source, features, label, owner)
    streamed = dict(comparisons or {})
    missing = [name for name in students if name not in streamed]
    if comparisons is not None and missing:
        raise InputError(
            f"The 'comparisons' parameter of {owner} has no entry for {missing}; pass one "
            "StreamingComparison per student, or leave 'comparisons' out to compute them."
        )
    for name in missing:
        streamed[name] = _compare(
            engine, teacher, students[name], source, spec.features, n_boot, random_state,
            num_workers, address, verbose,
        )  # fmt: skip
    sample = uniform_sample(spec, sample_rows, random_state)
    X = sample[spec.features]
    y = sample[spec.label].to_numpy() if spec.label else None
    with explain_backend(_ray_explainer(address) if engine == "ray" else None):
        report = DistillationReport.from_models(
            teacher,
            dict(students),
            X,
            y,
            dataset_name=dataset_name,
            preset=preset,
            n_bootstrap=n_boot,
            config=dict(config or {}),
            random_state=random_state,
            **report_kwargs,
        )
    return _overlay(report, streamed, spec.n_rows, len(sample), engine)


def _ray_explainer(address: str | None) -> Callable[..., Attributions]:
    """An ``explain_backend`` that runs each call as Ray tasks (:func:`explain_ray`).

    ``method="kernel"`` draws its samples per call, so it stays in this process.

    Parameters
    ----------
    address : str or None
        The Ray cluster (None: the running one, else a local one).

    Returns
    -------
    callable
        ``(model, X, background, **explain_keywords) -> Attributions``.
    """

    def backend(model: Any, X: Any, background: Any, **keywords: Any) -> Attributions:
        if keywords.get("method") == "kernel":
            return explain(model, X, background, **keywords)
        from .ray_explain import explain_ray

        return explain_ray(model, X, background, address=address, **keywords)

    return backend


def _compare(
    engine: str,
    teacher: Any,
    student: Any,
    source: Any,
    features: list[str],
    n_bootstrap: int,
    seed: int,
    num_workers: int,
    address: str | None,
    verbose: bool | Callable[[str], None],
) -> StreamingComparison:
    """One student's streamed comparison on the chosen engine."""
    if engine == "ray":
        from .ray_compare import compare_ray

        return compare_ray(
            teacher, student, source, features=features, n_bootstrap=n_bootstrap,
            random_state=seed, num_workers=num_workers, address=address, verbose=verbose,
        )  # fmt: skip
    return compare_streaming(
        teacher, student, source, features=features, n_bootstrap=n_bootstrap,
        random_state=seed, verbose=verbose,
    )  # fmt: skip


def _overlay(
    report: DistillationReport,
    streamed: Mapping[str, StreamingComparison],
    n_all: int,
    n_sample: int,
    engine: str,
) -> DistillationReport:
    """Put the streamed numbers into the sample's report and label every number's rows.

    Parameters
    ----------
    report : DistillationReport
        ``from_models`` on the sample (modified in place and returned).
    streamed : mapping of str to StreamingComparison
        One per student.
    n_all, n_sample : int
        N and n.
    engine : str
        Recorded.

    Returns
    -------
    DistillationReport
    """
    reservoir = 0
    for name, result in report.students.items():
        c = streamed[name]
        if len(c.classes) != len(report.class_names):
            raise InputError(
                f"The streamed comparison of {name!r} has {len(c.classes)} classes but the "
                f"teacher has {len(report.class_names)}; compare the same teacher and student."
            )
        result.fidelity = float(c.fidelity)
        result.fidelity_ci = (float(c.intervals["fidelity"][0]), float(c.intervals["fidelity"][1]))
        result.per_class_fidelity = {
            report.class_names[i]: float(c.per_class_fidelity[label])
            for i, label in enumerate(c.classes)
        }
        result.agreement_matrix = np.asarray(c.agreement_matrix)
        result.kl_divergence = float(c.kl_divergence)
        result.js_distance = float(c.js_distance)
        result.total_variation = float(c.total_variation)
        reservoir = max(reservoir, int(c.sample_rows))
    scope = {
        "engine": engine,
        "all_rows": int(n_all),
        "sample_rows": int(n_sample),
        "reservoir_rows": reservoir,
        "over_all_rows": list(OVER_ALL_ROWS),
        "over_sample": list(OVER_SAMPLE),
    }
    report.config["row_scope"] = scope
    report.dataset = {**report.dataset, "n_rows": int(n_all), "sample_rows": int(n_sample)}
    report.extra = {
        **report.extra,
        "row_scope": (
            f"Streamed over all {n_all:,} rows ({engine} engine, exact): fidelity, per-class "
            "fidelity, the agreement matrix and KL / JS / TV; the fidelity interval is a "
            f"bootstrap on a uniform sample of {reservoir:,} rows. Everything else "
            "(headline numbers and verdict, accuracy, attributions and their agreement, "
            "disagreements, where not to trust, figures) is computed on a uniform sample "
            f"of {n_sample:,} rows."
        ),
    }
    return report
