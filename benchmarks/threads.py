"""Threads: torch on 1 thread vs 2 threads at the sizes the library meets.

For each data size (breast cancer, 455 x 30; adult-size, 21,000 x 30; both synthetic
standard-normal rows with a non-linear two-class rule) and each model (the MLP student,
``MLPTeacher`` and a depth-4 soft tree), trains with the library's automatic batch size
(``batch_size="auto"``) for a fixed number of epochs without early stopping, once with
``n_jobs=1`` and once with ``n_jobs=2`` (interleaved, ``--repeats`` times, medians), and
times ``predict_proba`` on all rows the same way. The ratio ``2 threads / 1 thread`` below
1 means the second thread helps. The rule in ``_torch_utils.resolve_threads``
(``n_jobs=None``) is chosen from these numbers.

A second table times the additive student's whole L-BFGS fit (``AdditiveClassifier`` at
its defaults, 21,000 x 30 rows, labels from the same rule) with ``n_jobs=1`` and
``n_jobs=2``: there the threads are not torch's but row blocks of the solver's sparse
products, one scipy call each; ``ADDITIVE_PARALLEL_MIN_ENTRIES`` is chosen from it.

    python -m benchmarks.threads            # 3 repeats
    python -m benchmarks.threads --quick    # 1 repeat, fewer epochs

Writes ``threads.csv`` and ``threads.md`` (``threads_quick.*``) into
``reports/benchmarks/``.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import _common as common

NAME = "threads"
SIZES = {"breast_cancer": 455, "adult": 21_000}
N_FEATURES = 30


def _data(n_rows: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, N_FEATURES)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + 0.3 * rng.standard_normal(n_rows) > 0).astype(int)
    return X, y


def _models(epochs: int, n_jobs: int) -> dict[str, Any]:
    from interpretable_kd import MLPTeacher
    from interpretable_kd.students import ShallowMLPClassifier, SoftDecisionTreeClassifier

    common_args = {"max_epochs": epochs, "early_stopping": False, "random_state": 0}
    models = {
        "mlp_student": ShallowMLPClassifier(**common_args),
        "mlp_teacher": MLPTeacher(**common_args),
        "soft_tree_depth4": SoftDecisionTreeClassifier(depth=4, **common_args),
    }
    for model in models.values():
        model.n_jobs = n_jobs  # set directly: works before every class lists n_jobs
    return models


def measure(repeats: int, epochs: int) -> pd.DataFrame:
    """One row per (size, model, threads): median seconds per epoch and per prediction.

    Parameters
    ----------
    repeats : int
        Interleaved repeats of each timing.
    epochs : int
        Epochs per timed fit.

    Returns
    -------
    DataFrame
        Columns ``data``, ``rows``, ``model``, ``threads``, ``batch_size``,
        ``seconds_per_epoch``, ``predict_seconds``.
    """
    rows = []
    for data, n_rows in SIZES.items():
        X, y = _data(n_rows)
        for model in _models(epochs, 1):
            fit_times: dict[int, list[float]] = {1: [], 2: []}
            predict_times: dict[int, list[float]] = {1: [], 2: []}
            batch = 0
            for _ in range(repeats):
                for threads in (1, 2):
                    estimator = _models(epochs, threads)[model]
                    with common.Stopwatch() as sw:
                        estimator.fit(X, y)
                    fit_times[threads].append(sw.seconds / epochs)
                    batch = estimator.batch_size_
                    with common.Stopwatch() as sw:
                        estimator.predict_proba(X)
                    predict_times[threads].append(sw.seconds)
                    print(
                        f"{data} {model} threads={threads} epoch "
                        f"{fit_times[threads][-1]:.4f}s predict {sw.seconds:.4f}s",
                        flush=True,
                    )
            for threads in (1, 2):
                rows.append(
                    {
                        "data": data,
                        "rows": n_rows,
                        "model": model,
                        "threads": threads,
                        "batch_size": batch,
                        "seconds_per_epoch": statistics.median(fit_times[threads]),
                        "predict_seconds": statistics.median(predict_times[threads]),
                    }
                )
    return pd.DataFrame(rows)


def measure_additive(repeats: int) -> pd.DataFrame:
    """The additive student's fit with 1 and 2 product threads, interleaved, medians.

    Parameters
    ----------
    repeats : int
        Interleaved repeats.

    Returns
    -------
    DataFrame
        Columns ``rows``, ``design_entries``, ``threads``, ``fit_seconds``.
    """
    from interpretable_kd import AdditiveClassifier

    X, y = _data(SIZES["adult"])
    times: dict[int, list[float]] = {1: [], 2: []}
    entries = 0
    for _ in range(repeats):
        for threads in (1, 2):
            model = AdditiveClassifier(random_state=0, n_jobs=threads)
            with common.Stopwatch() as sw:
                model.fit(X, y)
            times[threads].append(sw.seconds)
            module = model.module_
            entries = len(X) * (2 * module.n_features + 4 * int(module.n_pairs))
            print(f"additive threads={threads} fit {sw.seconds:.3f}s", flush=True)
    return pd.DataFrame(
        [
            {
                "rows": len(X),
                "design_entries": entries,
                "threads": threads,
                "fit_seconds": statistics.median(times[threads]),
            }
            for threads in (1, 2)
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 repeat, 3 epochs")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args(argv)
    repeats, epochs = (1, 3) if args.quick else (args.repeats, args.epochs)
    frame = measure(repeats, epochs)
    additive = measure_additive(repeats)
    wide = frame.pivot_table(
        index=["data", "model", "batch_size"],
        columns="threads",
        values=["seconds_per_epoch", "predict_seconds"],
    )
    ratio = pd.DataFrame(
        {
            "epoch s (1 thread)": wide[("seconds_per_epoch", 1)],
            "epoch s (2 threads)": wide[("seconds_per_epoch", 2)],
            "fit ratio 2/1": wide[("seconds_per_epoch", 2)] / wide[("seconds_per_epoch", 1)],
            "predict s (1)": wide[("predict_seconds", 1)],
            "predict s (2)": wide[("predict_seconds", 2)],
            "predict ratio 2/1": wide[("predict_seconds", 2)] / wide[("predict_seconds", 1)],
        }
    ).reset_index()
    out = common.OUT_DIR
    out.mkdir(parents=True, exist_ok=True)
    stem = common.stem(NAME, args.quick)
    common.write_csv(frame, out / f"{stem}.csv")
    common.write_csv(additive, out / f"{stem}_additive.csv")
    one, two = additive["fit_seconds"].tolist()
    additive_table = pd.DataFrame(
        {
            "rows": [int(additive["rows"][0])],
            "design entries (upper bound)": [int(additive["design_entries"][0])],
            "fit s (1 thread)": [one],
            "fit s (2 threads)": [two],
            "fit ratio 2/1": [two / one],
        }
    )
    lines = [
        "# Threads: 1 vs 2 torch threads",
        "",
        f"{repeats} interleaved repeats, {epochs} epochs per fit, medians. "
        + common.SHARED_MACHINE_NOTE,
        "",
        *common.markdown_table(ratio.round(4)),
        "",
        "## The additive student's L-BFGS fit: 1 vs 2 row blocks of its sparse products",
        "",
        f"`AdditiveClassifier(n_jobs=k)` at its defaults, {repeats} interleaved repeats, "
        "medians of the whole fit.",
        "",
        *common.markdown_table(additive_table.round(4)),
        "",
        common.machine_line(),
    ]
    common.write_markdown(lines, out / f"{stem}.md")
    print(ratio.round(4).to_string(index=False))
    print(additive_table.round(4).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
