"""How fast is ``interpretable_kd.attributions.explain``? Compared with shap.KernelExplainer.

On scikit-learn's breast_cancer data (30 standardised features) it explains 200 held-out
rows of the five models a report explains: the MLP teacher, a logistic, a small MLP and a
soft decision tree student, and the teacher again with another seed (the noise floor).
Each model is timed 3 times and the median is reported. shap.KernelExplainer
(``nsamples="auto"``, the same 50-row background) is run on the teacher for fewer rows
(``--kernel-rows``, default 20) and its time is scaled up linearly to 200 rows; the output
says so.

    python benchmarks/explain_speed.py [--rows 200] [--kernel-rows 20] [--torch-threads 1]
                                       [--out FILE.json]

Wall-clock and CPU seconds are both printed: on a shared machine the CPU time of this
process is the steadier number.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import shap
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import interpretable_kd as ikd
from interpretable_kd.attributions import explain, feature_agreement, rank_correlation
from interpretable_kd.students import REGISTRY

MAX_BACKGROUND = 50
# Names of the registered students in this benchmark's results, where they differ from
# the registry label (kept from the results written before the registry).
RESULT_NAMES = {"logistic": "logistic", "mlp": "small MLP (16)", "tree": "soft tree (depth 4)"}


def fit_models(X_train: np.ndarray, y_train: np.ndarray) -> dict[str, Any]:
    """The teacher and every registered student, trained on labels (only their speed
    matters here).

    Parameters
    ----------
    X_train : ndarray of shape (n_rows, n_features)
        Training rows.
    y_train : ndarray of shape (n_rows,)
        Their labels.

    Returns
    -------
    dict
        Result name -> fitted model, the teacher first, then the students in registry
        order, each with the registry's defaults and ``random_state=0``.
    """
    models: dict[str, Any] = {
        "teacher (MLP 64-64)": ikd.MLPTeacher(random_state=0).fit(X_train, y_train)
    }
    for kind in REGISTRY.values():
        name = RESULT_NAMES.get(kind.name, kind.label)
        models[name] = kind.make(random_state=0).fit(X_train, y_train)
    return models


def time_call(function: Any, repeats: int) -> tuple[float, float, Any]:
    """Median wall-clock and CPU seconds (all threads of this process) over ``repeats``
    calls, and the last result."""
    wall, cpu, result = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = function()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu), result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200, help="rows to explain (default 200)")
    parser.add_argument("--kernel-rows", type=int, default=20, help="rows for KernelExplainer")
    parser.add_argument("--repeats", type=int, default=3, help="timings per model (median)")
    parser.add_argument("--out", type=Path, default=None, help="also write the results as JSON")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch.set_num_threads; 0 keeps torch's default (default 1: on a busy 2-core "
        "machine one thread was 2-4x faster than two)",
    )
    args = parser.parse_args(argv)
    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, _ = train_test_split(
        X, y, test_size=args.rows, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    models = fit_models(X_train, y_train)
    teacher_name = next(iter(models))
    teacher = models[teacher_name]
    target = teacher.predict_proba(X_test).argmax(axis=1)

    print(
        f"explain(): {len(X_test)} rows x {X_test.shape[1]} features, background "
        f"{len(X_train)} rows summarised to {MAX_BACKGROUND}, median of {args.repeats} runs; "
        f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}, "
        f"{platform.processor() or platform.machine()}"
    )
    runs = [(name, model, 0) for name, model in models.items()]
    runs.append((f"{teacher_name}, seed 1", teacher, 1))
    results: dict[str, Any] = {"rows": len(X_test), "models": {}}
    explained: dict[str, Any] = {}
    for name, model, seed in runs:

        def call(model: Any = model, seed: int = seed) -> Any:
            return explain(
                model,
                X_test,
                X_train,
                target=target,
                random_state=seed,
                max_background=MAX_BACKGROUND,
            )

        seconds, cpu_seconds, attributions = time_call(call, args.repeats)
        explained[name] = attributions
        results["models"][name] = {
            "seconds": seconds,
            "cpu_seconds": cpu_seconds,
            "method": attributions.method,
        }
        print(f"  {name:32s} {seconds:6.2f} s  (CPU {cpu_seconds:5.2f} s, {attributions.method})")
    total = sum(entry["seconds"] for entry in results["models"].values())
    total_cpu = sum(entry["cpu_seconds"] for entry in results["models"].values())
    results["total_seconds"], results["total_cpu_seconds"] = total, total_cpu
    print(f"  {'total, 5 explanations':32s} {total:6.2f} s  (CPU {total_cpu:5.2f} s)")
    print(f"  load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    # shap.KernelExplainer on the teacher, same background size, fewer rows, scaled up.
    n_kernel = min(args.kernel_rows, len(X_test))
    rng = np.random.default_rng(0)
    background = X_train[np.sort(rng.choice(len(X_train), MAX_BACKGROUND, replace=False))]
    np.random.seed(0)  # noqa: NPY002  (KernelExplainer samples from the global generator)
    kernel = shap.KernelExplainer(teacher.predict_proba, background)
    start = time.perf_counter()
    raw = kernel.shap_values(X_test[:n_kernel], nsamples="auto", silent=True)
    kernel_seconds = time.perf_counter() - start
    values = np.asarray(raw)[np.arange(n_kernel), :, target[:n_kernel]]
    scaled = kernel_seconds * len(X_test) / n_kernel
    ours = results["models"][teacher_name]["seconds"]
    ours_rows = explained[teacher_name].values[:n_kernel]
    results["kernel"] = {
        "rows": n_kernel,
        "seconds": kernel_seconds,
        "seconds_scaled_to_rows": scaled,
        "speedup_of_explain": scaled / ours,
        "feature_agreement_at_5_with_explain": float(
            feature_agreement(ours_rows, values, 5).mean()
        ),
        "rank_correlation_with_explain": float(np.nanmean(rank_correlation(ours_rows, values))),
    }
    print(
        f"shap.KernelExplainer (nsamples='auto') on the teacher: {kernel_seconds:.2f} s for "
        f"{n_kernel} rows, i.e. {scaled:.1f} s scaled linearly to {len(X_test)} rows "
        f"(not measured on all of them)."
    )
    print(f"explain() on the teacher is {scaled / ours:.1f}x faster than KernelExplainer.")
    print(
        f"On those {n_kernel} rows, explain() vs KernelExplainer: top-5 feature agreement "
        f"{results['kernel']['feature_agreement_at_5_with_explain']:.2f}, rank correlation "
        f"{results['kernel']['rank_correlation_with_explain']:.2f}."
    )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.out}")
    return results


if __name__ == "__main__":
    main()
