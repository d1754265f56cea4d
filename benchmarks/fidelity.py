"""Fidelity and accuracy: distilled students against the global surrogates users fit today.

For each data set (breast_cancer, wine, digits, adult, compas, german_credit, and
``make_classification`` with 100,000 rows) and each seed: a stratified 70/30 split drawn
with that seed, an ``MLPTeacher``, then

- each student (``SoftLogisticRegression``, ``ShallowMLPClassifier``,
  ``SoftDecisionTreeClassifier(depth=4)``) trained on the true labels ("hard labels"), and
  distilled with ``DistilledClassifier`` at temperatures 0.1, 0.25, 0.5, 1, 2, 4 and 8
  (below 1 the teacher's probabilities are sharpened, above 1 softened), without and with
  transfer-set augmentation (``augment="both"``: as many synthetic rows as training rows,
  half Gaussian noise, half mixup, labelled by the teacher);
- the baselines users pick today, fitted on the teacher's predicted labels of the training
  rows (global surrogates): scikit-learn's ``DecisionTreeClassifier(max_leaf_nodes=16)``
  (the soft tree's 2^4 leaves) and ``LogisticRegression``, also with the same augmented
  transfer set, and InterpretML's ``ExplainableBoostingClassifier(outer_bags=1)`` where
  ``interpret`` is installed (fewer seeds: it is by far the slowest fit).

Measured on the held-out rows: accuracy, fidelity (share of rows where the model predicts
the teacher's class), KL(teacher || model), attribution agreement (top-5 feature
agreement and rank correlation of ``interpretable_kd.attributions.explain`` on a sample of
test rows, teacher and model explained with the same background, the same permutations
and the teacher's class) and fit seconds. Means with 95% t intervals over the seeds.

    python -m benchmarks.fidelity            # 7 data sets, 5 seeds
    python -m benchmarks.fidelity --quick    # 3 small data sets, 2 seeds, T in {0.25, 1, 4}

Writes ``fidelity.csv``, ``fidelity.md``, ``fidelity_temperature.png`` and
``fidelity_baselines.png`` (``fidelity_quick.*`` with ``--quick``) into
``reports/benchmarks/``.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import math
import multiprocessing
import os
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

import interpretable_kd as ikd
from interpretable_kd.attributions import explain, feature_agreement, rank_correlation
from interpretable_kd.datasets import split_dataset
from interpretable_kd.metrics import kl_divergence

from . import _common as common
from . import _students as student_kinds

NAME = "fidelity"
DATASETS = (
    "breast_cancer",
    "wine",
    "digits",
    "german_credit",
    "compas",
    "adult",
    "synthetic_100k",
)
QUICK_DATASETS = ("breast_cancer", "wine", "german_credit")
SEEDS = (0, 1, 2, 3, 4)
# Below 1 sharpens the teacher's probabilities (issue 11: a small student matching the
# teacher's decisions can gain from it), above 1 softens them.
TEMPERATURES = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
QUICK_TEMPERATURES = (0.25, 1.0, 4.0)
AUGMENT = "both"
TREE_DEPTH = student_kinds.TREE_DEPTH
TOP_K = 5
STUDENTS = tuple(student_kinds.STUDENTS)  # table names, in registry order
BASELINES = ("CART (16 leaves)", "sklearn logistic", "EBM")


@dataclass(frozen=True)
class Budget:
    """Training budget of one data set: what keeps the full run within 45 minutes.

    Students and teacher use the library defaults (Adam, learning rate 0.01 for students
    and 0.001 for the teacher, early stopping on 10% of the rows, patience 10) except for
    what is set here: an epoch cap (logistic regression and the MLP usually stop early
    before it; the soft tree usually reaches it), and on the two large data sets batches
    16 times larger with 3 times larger learning rates, where an epoch is already 17 to
    35 optimiser steps.
    """

    batch_size: int = 128
    max_epochs: int = 50
    n_iter_no_change: int = 10
    learning_rate: float = 0.01
    teacher_batch_size: int = 128
    teacher_epochs: int = 200
    teacher_learning_rate: float = 0.001
    n_augment: int | None = None  # None: as many synthetic rows as training rows
    ebm_seeds: int = 2
    ebm_max_rows: int | None = None  # fit EBM on a sample of this many training rows
    n_explain: int = 25
    max_background: int = 16
    n_permutations: int = 4


SMALL = Budget()
LARGE = Budget(
    batch_size=2048,
    max_epochs=8,
    n_iter_no_change=3,
    learning_rate=0.03,
    teacher_batch_size=2048,
    teacher_epochs=30,
    teacher_learning_rate=0.005,
    n_augment=20_000,
    ebm_seeds=1,
    ebm_max_rows=20_000,
)
BUDGETS = {
    # Tiny data sets: smaller batches, so that an epoch is at least ~4 optimiser steps.
    "breast_cancer": replace(SMALL, batch_size=64),
    "wine": replace(SMALL, batch_size=32),
    "digits": replace(SMALL, max_epochs=80),
    "german_credit": SMALL,
    # ~3,900 rows to train on: batches of 512 keep an epoch at ~8 steps.
    "compas": replace(SMALL, batch_size=512, max_epochs=80, teacher_batch_size=256),
    "adult": LARGE,
    "synthetic_100k": LARGE,
}


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Split:
    name: str
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


_SYNTHETIC: tuple[np.ndarray, np.ndarray] | None = None


def synthetic() -> tuple[np.ndarray, np.ndarray]:
    """100,000 x 20 rows, 3 classes, 10 informative and 4 redundant features; one fixed
    problem (random_state=0), a different split per seed."""
    global _SYNTHETIC
    if _SYNTHETIC is None:
        X, y = make_classification(
            n_samples=100_000,
            n_features=20,
            n_informative=10,
            n_redundant=4,
            n_classes=3,
            n_clusters_per_class=2,
            flip_y=0.02,
            random_state=0,
        )
        _SYNTHETIC = (X, y.astype(str))
    return _SYNTHETIC


def load_split(name: str, seed: int) -> Split:
    """A stratified 70/30 split drawn with ``seed``, features encoded and scaled on the
    training rows only, as float32 arrays."""
    if name == "synthetic_100k":
        X, y = synthetic()
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, random_state=seed, stratify=y
        )
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    else:
        split = split_dataset(name, test_size=0.3, random_state=seed)
        X_train, X_test = split.X_train.to_numpy(), split.X_test.to_numpy()
        y_train, y_test = split.y_train, split.y_test
    return Split(
        name,
        np.ascontiguousarray(X_train, dtype=np.float32),
        np.ascontiguousarray(X_test, dtype=np.float32),
        np.asarray(y_train),
        np.asarray(y_test),
    )


# --------------------------------------------------------------------------- models
def make_student(kind: str, budget: Budget, seed: int) -> Any:
    """A new student of the registered kind ``kind`` (a table name) with this budget.

    Parameters
    ----------
    kind : str
        Table name of the student kind, one of :data:`STUDENTS`.
    budget : Budget
        Epoch cap, batch size, patience and learning rate.
    seed : int
        The student's ``random_state``.

    Returns
    -------
    estimator
        Unfitted; the registry's defaults (e.g. the tree's depth) apply. Budget
        parameters the kind does not take (e.g. a student with an exact solver and no
        epochs) are left out.
    """
    params = {
        "max_epochs": budget.max_epochs,
        "batch_size": budget.batch_size,
        "n_iter_no_change": budget.n_iter_no_change,
        "learning_rate": budget.learning_rate,
        "random_state": seed,
    }
    accepted = student_kinds.STUDENTS[kind].estimator().get_params()
    return student_kinds.make_student(kind, **{k: v for k, v in params.items() if k in accepted})


def make_baseline(kind: str, seed: int) -> Any:
    if kind == "CART (16 leaves)":
        return DecisionTreeClassifier(max_leaf_nodes=2**TREE_DEPTH, random_state=seed)
    if kind == "sklearn logistic":
        return LogisticRegression(max_iter=1000)
    if kind == "EBM":
        from interpret.glassbox import ExplainableBoostingClassifier

        return ExplainableBoostingClassifier(outer_bags=1, random_state=seed)
    raise ValueError(f"unknown baseline {kind!r}")


def ebm_available() -> bool:
    return importlib.util.find_spec("interpret") is not None


def aligned_proba(model: Any, X: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """``predict_proba`` with one column per teacher class (zeros for classes the model
    never saw, e.g. a surrogate whose training rows the teacher never gave that class)."""
    proba = np.asarray(model.predict_proba(X), dtype=np.float64)
    model_classes = np.asarray(getattr(model, "classes_", classes))
    if len(model_classes) == len(classes) and np.array_equal(model_classes, classes):
        return proba
    out = np.zeros((X.shape[0], len(classes)))
    out[:, np.searchsorted(classes, model_classes)] = proba
    return out


# --------------------------------------------------------------------------- one seed
@dataclass
class Explainer:
    """Explains models on fixed rows against a fixed background, with the same seed and
    target class for every model, and compares each with the teacher."""

    X: np.ndarray
    background: np.ndarray
    target: np.ndarray
    budget: Budget
    seed: int
    reference: np.ndarray | None = None

    def values(self, model: Any, seed: int | None = None) -> np.ndarray:
        return explain(
            model,
            self.X,
            self.background,
            target=self.target,
            max_background=self.budget.max_background,
            n_permutations=self.budget.n_permutations,
            random_state=self.seed if seed is None else seed,
        ).values

    def agreement(self, model: Any) -> tuple[float, float]:
        assert self.reference is not None
        values = self.values(model)
        k = min(TOP_K, values.shape[1])
        return (
            float(feature_agreement(self.reference, values, k).mean()),
            float(np.nanmean(rank_correlation(self.reference, values))),
        )


def evaluate(
    model: Any,
    split: Split,
    teacher_pred: np.ndarray,
    teacher_proba: np.ndarray,
    classes: np.ndarray,
    explainer: Explainer,
) -> dict[str, float]:
    pred = np.asarray(model.predict(split.X_test))
    proba = aligned_proba(model, split.X_test, classes)
    agreement, rank_corr = explainer.agreement(model)
    return {
        "accuracy": float(np.mean(pred == split.y_test)),
        "fidelity": float(np.mean(pred == teacher_pred)),
        "kl_divergence": float(kl_divergence(teacher_proba, proba)),
        "feature_agreement_at_5": agreement,
        "rank_correlation": rank_corr,
    }


def timed_fit(make: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    model = make()
    return model, time.perf_counter() - start


def run_seed(
    name: str,
    seed: int,
    budget: Budget,
    temperatures: Sequence[float],
    with_ebm: bool,
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    split = load_split(name, seed)
    teacher, teacher_seconds = timed_fit(
        lambda: ikd.MLPTeacher(
            random_state=seed,
            batch_size=budget.teacher_batch_size,
            max_epochs=budget.teacher_epochs,
            learning_rate=budget.teacher_learning_rate,
        ).fit(split.X_train, split.y_train)
    )
    classes = np.asarray(teacher.classes_)
    teacher_proba = teacher.predict_proba(split.X_test)
    teacher_pred = classes[teacher_proba.argmax(axis=1)]
    rng = np.random.default_rng(seed)
    n_explain = min(budget.n_explain, split.X_test.shape[0])
    rows = np.sort(rng.choice(split.X_test.shape[0], n_explain, replace=False))
    explainer = Explainer(
        X=split.X_test[rows],
        background=split.X_train,
        target=teacher_proba[rows].argmax(axis=1),
        budget=budget,
        seed=seed,
    )
    explainer.reference = explainer.values(teacher)
    # The noise floor: the teacher explained again with other permutations and background.
    noise = explainer.values(teacher, seed=seed + 1000)
    k = min(TOP_K, noise.shape[1])
    base = {
        "dataset": name,
        "seed": seed,
        "n_train": split.X_train.shape[0],
        "n_test": split.X_test.shape[0],
        "n_features": split.X_train.shape[1],
        "n_classes": len(classes),
        "teacher_accuracy": float(np.mean(teacher_pred == split.y_test)),
        "teacher_fit_seconds": teacher_seconds,
        "teacher_epochs": teacher.n_iter_,
        # the budget, so that a report rewritten from the CSV describes this run
        "batch_size": budget.batch_size,
        "max_epochs": budget.max_epochs,
        "n_iter_no_change": budget.n_iter_no_change,
        "learning_rate": budget.learning_rate,
        "teacher_batch_size": budget.teacher_batch_size,
        "teacher_max_epochs": budget.teacher_epochs,
        "teacher_learning_rate": budget.teacher_learning_rate,
        "n_augment": math.nan if budget.n_augment is None else budget.n_augment,
        "n_explain": explainer.X.shape[0],
        "max_background": budget.max_background,
        "n_permutations": budget.n_permutations,
        "attribution_noise_floor_at_5": float(
            feature_agreement(explainer.reference, noise, k).mean()
        ),
    }
    records: list[dict[str, Any]] = []

    def record(fitted: Any, seconds: float, **fields: Any) -> None:
        metrics = evaluate(fitted, split, teacher_pred, teacher_proba, classes, explainer)
        student = getattr(fitted, "student_", fitted)
        epochs = getattr(student, "n_iter_", math.nan)  # scikit-learn's may be an array
        epochs = int(epochs) if isinstance(epochs, int | np.integer) else math.nan
        records.append({**base, **fields, **metrics, "fit_seconds": seconds, "epochs": epochs})

    # Baselines: global surrogates on the teacher's labels (the classic path of
    # DistilledClassifier for a scikit-learn classifier without fit_distill).
    baselines = ["CART (16 leaves)", "sklearn logistic"] + (["EBM"] if with_ebm else [])
    for kind in baselines:
        X_fit, y_fit = split.X_train, split.y_train
        if kind == "EBM" and budget.ebm_max_rows and X_fit.shape[0] > budget.ebm_max_rows:
            sample = np.sort(rng.choice(X_fit.shape[0], budget.ebm_max_rows, replace=False))
            X_fit, y_fit = X_fit[sample], y_fit[sample]
        for augment in [None] if kind == "EBM" else [None, AUGMENT]:
            model, seconds = timed_fit(
                lambda kind=kind, augment=augment, X_fit=X_fit, y_fit=y_fit: (
                    ikd.DistilledClassifier(
                        teacher,
                        make_baseline(kind, seed),
                        augment=augment,
                        n_augment=budget.n_augment,
                        random_state=seed,
                    ).fit(X_fit, y_fit)
                )
            )
            record(
                model,
                seconds,
                family="baseline",
                model=kind,
                training="teacher labels"
                + (f", {X_fit.shape[0]:,}-row sample" if X_fit is not split.X_train else ""),
                temperature=math.nan,
                augment=augment or "none",
            )
    for kind in STUDENTS:
        model, seconds = timed_fit(
            lambda kind=kind: make_student(kind, budget, seed).fit(split.X_train, split.y_train)
        )
        record(
            model,
            seconds,
            family="student",
            model=kind,
            training="hard labels",
            temperature=math.nan,
            augment="none",
        )
        for temperature in temperatures:
            for augment in (None, AUGMENT):
                model, seconds = timed_fit(
                    lambda kind=kind, t=temperature, a=augment: ikd.DistilledClassifier(
                        teacher,
                        make_student(kind, budget, seed),
                        temperature=t,
                        augment=a,
                        n_augment=budget.n_augment,
                        random_state=seed,
                    ).fit(split.X_train, split.y_train)
                )
                record(
                    model,
                    seconds,
                    family="student",
                    model=kind,
                    training="distilled",
                    temperature=temperature,
                    augment=augment or "none",
                )
    log(
        f"  {name} seed {seed}: teacher accuracy {base['teacher_accuracy']:.3f} "
        f"({teacher_seconds:.1f} s, {teacher.n_iter_} epochs), {len(records)} models, "
        f"fit seconds {sum(r['fit_seconds'] for r in records):.1f}"
    )
    return records


# --------------------------------------------------------------------------- summary
METRICS = (
    "accuracy",
    "fidelity",
    "kl_divergence",
    "feature_agreement_at_5",
    "rank_correlation",
    "fit_seconds",
)


def model_name(row: pd.Series) -> str:
    """The model, with its sample size when it was fitted on a sample (EBM)."""
    sample = row["training"].split(", ", 1)[1] if ", " in str(row["training"]) else ""
    return f"{row['model']} ({sample})" if sample else str(row["model"])


def setting_label(row: pd.Series) -> str:
    if row["training"] == "distilled":
        text = f"T={row['temperature']:g}"
        return text + (", augmented" if row["augment"] != "none" else "")
    return row["training"] + (", augmented" if row["augment"] != "none" else "")


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """One row per data set x model x setting: mean and 95% t interval over seeds of every
    metric (fit seconds: median too)."""
    frame = results.copy()
    frame["setting"] = frame.apply(setting_label, axis=1)
    keys = ["dataset", "family", "model", "training", "temperature", "augment", "setting"]
    rows = []
    for key, group in frame.groupby(keys, dropna=False, sort=False):
        row = dict(zip(keys, key, strict=True))
        row["n_seeds"] = group["seed"].nunique()
        for metric in METRICS:
            mean, low, high = common.mean_ci(group[metric])
            row[metric], row[f"{metric}_low"], row[f"{metric}_high"] = mean, low, high
        row["fit_seconds_median"] = float(group["fit_seconds"].median())
        row["teacher_accuracy"] = float(group["teacher_accuracy"].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def _ci(row: pd.Series, metric: str, digits: int = 3) -> str:
    mean, low, high = row[metric], row[f"{metric}_low"], row[f"{metric}_high"]
    if math.isnan(mean):
        return "–"
    if math.isnan(low):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def _paired_difference(
    results: pd.DataFrame, dataset: str, a: dict[str, Any], b: dict[str, Any], metric: str
) -> tuple[float, float, float]:
    """Mean and 95% t interval of (a - b) over the seeds both were run on."""

    def select(spec: dict[str, Any]) -> pd.Series:
        mask = results["dataset"] == dataset
        for column, value in spec.items():
            if isinstance(value, float) and math.isnan(value):
                mask &= results[column].isna()
            else:
                mask &= results[column] == value
        return results.loc[mask].set_index("seed")[metric]

    left, right = select(a), select(b)
    joined = pd.concat([left, right], axis=1, join="inner")
    return common.mean_ci(joined.iloc[:, 0] - joined.iloc[:, 1])


def pick(summary: pd.DataFrame, **spec: Any) -> pd.Series | None:
    mask = pd.Series(True, index=summary.index)
    for column, value in spec.items():
        if isinstance(value, float) and math.isnan(value):
            mask &= summary[column].isna()
        else:
            mask &= summary[column] == value
    found = summary.loc[mask]
    return None if found.empty else found.iloc[0]


def temperature_table(summary: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per student and augmentation: mean fidelity over data sets at each temperature,
    how many data sets each temperature wins, its mean rank, and the winner: the highest
    mean fidelity over the data sets (ties, to 0.001, broken by the mean rank)."""
    distilled = summary[summary["training"] == "distilled"]
    rows, winners = [], {}
    for (student, augment), group in distilled.groupby(["model", "augment"], sort=False):
        pivot = group.pivot_table(index="dataset", columns="temperature", values="fidelity")
        mean = pivot.mean(axis=0)
        ranks = pivot.rank(axis=1, ascending=False).mean(axis=0)
        wins = pivot.idxmax(axis=1).value_counts()
        row: dict[str, Any] = {"student": student, "augment": augment}
        for t in pivot.columns:
            row[f"T={t:g}"] = mean[t]
        for t in pivot.columns:
            row[f"wins T={t:g}"] = int(wins.get(t, 0))
        row["mean rank"] = " / ".join(f"{ranks[t]:.1f}" for t in pivot.columns)
        best = _winner(mean, ranks)
        row["winner"] = f"T={best:g}"
        winners[f"{student}, {augment}"] = best
        rows.append(row)
    return pd.DataFrame(rows), winners


def tree_vs_cart(
    results: pd.DataFrame, summary: pd.DataFrame, default_t: float
) -> tuple[list[str], int, int]:
    """Must-show 1: the distilled soft tree against CART with the same 16 leaves."""
    lines = [
        "| data set | teacher acc. | CART on teacher labels | CART, augmented | soft tree, "
        f"T={default_t:g} | soft tree, T={default_t:g}, augmented | soft tree, best setting | "
        f"paired diff. (T={default_t:g}) − CART | better? |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    wins, n, significant = 0, 0, 0
    notes = []
    for dataset in summary["dataset"].unique():
        sub = summary[summary["dataset"] == dataset]
        cart = pick(sub, model="CART (16 leaves)", augment="none")
        cart_aug = pick(sub, model="CART (16 leaves)", augment=AUGMENT)
        tree = pick(
            sub, model="soft tree", training="distilled", temperature=default_t, augment="none"
        )
        tree_aug = pick(
            sub, model="soft tree", training="distilled", temperature=default_t, augment=AUGMENT
        )
        trees = sub[(sub["model"] == "soft tree") & (sub["training"] == "distilled")]
        if cart is None or tree is None or trees.empty:
            continue
        best = trees.loc[trees["fidelity"].idxmax()]
        diff = _paired_difference(
            results,
            dataset,
            {
                "model": "soft tree",
                "training": "distilled",
                "temperature": default_t,
                "augment": "none",
            },
            {"model": "CART (16 leaves)", "augment": "none"},
            "fidelity",
        )
        n += 1
        better = tree["fidelity"] > cart["fidelity"]
        wins += int(better)
        tie = False
        if math.isnan(diff[1]):
            qualifier = " (1 seed: no interval)"
        elif diff[1] > 0 or diff[2] < 0:
            qualifier = ""
            significant += int(better)
        else:
            qualifier = " (interval includes 0)"
            tie = True
        verdict = ("yes" if better else "**no**") + qualifier
        lines.append(
            f"| {dataset} | {tree['teacher_accuracy']:.3f} | {_ci(cart, 'fidelity')} | "
            f"{_ci(cart_aug, 'fidelity') if cart_aug is not None else '–'} | "
            f"{_ci(tree, 'fidelity')} | "
            f"{_ci(tree_aug, 'fidelity') if tree_aug is not None else '–'} | "
            f"{best['fidelity']:.3f} ({best['setting']}) | "
            + (
                f"{diff[0]:+.3f}"
                if math.isnan(diff[1])
                else f"{diff[0]:+.3f} [{diff[1]:+.3f}, {diff[2]:+.3f}]"
            )
            + f" | {verdict} |"
        )
        if not better or tie:
            notes.append(_why_not_better(dataset, sub, results, tree, cart, best, diff))
    return [*lines, "", *notes], wins, n, significant


def _why_not_better(
    dataset: str,
    sub: pd.DataFrame,
    results: pd.DataFrame,
    tree: pd.Series,
    cart: pd.Series,
    best: pd.Series,
    diff: tuple[float, float, float],
) -> str:
    """A data-driven sentence on why the soft tree is not ahead of CART on ``dataset``
    (behind it, or level within the seed-to-seed noise)."""
    hard = pick(sub, model="soft tree", training="hard labels")
    rows = results[results["dataset"] == dataset]
    first = rows.iloc[0]
    fits = rows[
        (rows["model"] == "soft tree")
        & (rows["training"] == "distilled")
        & (rows["temperature"] == tree["temperature"])
        & (rows["augment"] == "none")
    ]
    reasons = []
    if not math.isnan(diff[1]) and diff[1] <= 0 <= diff[2]:
        reasons.append(
            f"the paired difference, {diff[0]:+.3f} [{diff[1]:+.3f}, {diff[2]:+.3f}], is "
            f"within the seed-to-seed noise ({first['n_test']} test rows: one row is "
            f"{1 / first['n_test']:.3f} of fidelity)"
        )
    trees = sub[(sub["model"] == "soft tree") & (sub["training"] == "distilled")]
    plain = trees[trees["augment"] == "none"]
    best_plain = plain.loc[plain["fidelity"].idxmax()] if not plain.empty else None
    if (
        best_plain is not None
        and best_plain["temperature"] != tree["temperature"]
        and best_plain["fidelity"] > max(cart["fidelity"], tree["fidelity"] + 0.005)
    ):
        reasons.append(
            f"at {best_plain['setting']} the tree does beat CART ({best_plain['fidelity']:.3f}), "
            "so here the one temperature chosen for all data sets is the wrong one"
        )
    tree_aug = pick(
        sub,
        model="soft tree",
        training="distilled",
        temperature=tree["temperature"],
        augment=AUGMENT,
    )
    if tree_aug is not None and tree_aug["fidelity"] >= cart["fidelity"] - 0.005:
        position = "ahead of" if tree_aug["fidelity"] > cart["fidelity"] + 0.005 else "level with"
        reasons.append(
            f"with the augmented transfer set the tree is {position} CART "
            f"({tree_aug['fidelity']:.3f} at the same temperature, {best['fidelity']:.3f} at "
            f"its best, {best['setting']}): the tree is short of training signal here, not "
            "of capacity"
        )
    if cart["fidelity"] >= 0.97:
        reasons.append(
            f"CART is already at {cart['fidelity']:.3f}: the teacher's decisions here are "
            "close to a few axis-aligned thresholds, which is what CART's splits are, and "
            "a soft tree's oblique, smooth splits have little to add"
        )
    if hard is not None and hard["fidelity"] >= tree["fidelity"]:
        reasons.append(
            f"the soft tree trained on the true labels is as faithful ({hard['fidelity']:.3f}): "
            "the teacher's probabilities add nothing the labels lack"
        )
    capped = fits["epochs"] >= fits["epochs"].max() if not fits.empty else pd.Series(dtype=bool)
    if not fits.empty and int(capped.sum()) > len(fits) / 2:
        steps = math.ceil(0.9 * first["n_train"] / first["batch_size"]) * int(fits["epochs"].max())
        reasons.append(
            f"the soft tree ran to the epoch cap ({int(fits['epochs'].max())} epochs, about "
            f"{steps} optimiser steps) in {int(capped.sum())} of {len(fits)} seeds: it is "
            "still learning when this run's budget ends, CART is fitted exactly"
        )
    if first["n_features"] >= 50 and first["n_train"] < 2000:
        reasons.append(
            f"{first['n_features']} features and {first['n_train']:,} rows: each soft split "
            "is a dense linear function of every feature, harder to fit from few rows than "
            "CART's single-feature thresholds"
        )
    if not reasons:
        reasons.append("no single cause stands out in these numbers")
    verdict = "behind" if tree["fidelity"] <= cart["fidelity"] else "level with"
    return (
        f"- **{dataset}**: the soft tree ({tree['fidelity']:.3f}) is {verdict} CART "
        f"({cart['fidelity']:.3f}): " + "; ".join(reasons) + "."
    )


def best_vs_baselines(results: pd.DataFrame, summary: pd.DataFrame) -> list[str]:
    """Must-show 2: the best student against the best baseline, with fit-time ratios."""
    lines = [
        "| data set | best student (setting) | fidelity | fit s (median) | best baseline | "
        "fidelity | fit s (median) | Δ fidelity | fit-time ratio student / baseline | "
        "EBM fidelity (seeds) | EBM fit s |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for dataset in summary["dataset"].unique():
        sub = summary[summary["dataset"] == dataset]
        students = sub[(sub["family"] == "student")]
        baselines = sub[(sub["family"] == "baseline") & (sub["augment"] == "none")]
        if students.empty or baselines.empty:
            continue
        s = students.loc[students["fidelity"].idxmax()]
        b = baselines.loc[baselines["fidelity"].idxmax()]
        ebm = pick(sub, model="EBM")
        lines.append(
            f"| {dataset} | {s['model']} ({s['setting']}) | {_ci(s, 'fidelity')} | "
            f"{s['fit_seconds_median']:.2f} | {model_name(b)} | {_ci(b, 'fidelity')} | "
            f"{b['fit_seconds_median']:.2f} | {s['fidelity'] - b['fidelity']:+.3f} | "
            f"{s['fit_seconds_median'] / b['fit_seconds_median']:.2g}x | "
            + (
                f"{ebm['fidelity']:.3f} ({int(ebm['n_seeds'])}) | {ebm['fit_seconds_median']:.1f} |"
                if ebm is not None
                else "not run | – |"
            )
        )
    return lines


def augmentation_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Mean fidelity gain from augmentation per data set and student (averaged over the
    temperatures)."""
    distilled = summary[summary["training"] == "distilled"]
    pivot = distilled.pivot_table(
        index=["dataset", "model"], columns="augment", values="fidelity", aggfunc="mean"
    )
    if AUGMENT not in pivot.columns or "none" not in pivot.columns:
        return pd.DataFrame()
    gain = (pivot[AUGMENT] - pivot["none"]).unstack("model")
    gain = gain.reindex(columns=[s for s in STUDENTS if s in gain.columns])
    gain.index.name = "data set"
    return gain.reset_index()


def distillation_gain_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Fidelity and accuracy of the best distilled setting minus training on hard labels."""
    rows = []
    for (dataset, student), group in summary[summary["family"] == "student"].groupby(
        ["dataset", "model"], sort=False
    ):
        hard = group[group["training"] == "hard labels"]
        distilled = group[group["training"] == "distilled"]
        if hard.empty or distilled.empty:
            continue
        h = hard.iloc[0]
        d = distilled.loc[distilled["fidelity"].idxmax()]
        rows.append(
            {
                "data set": dataset,
                "student": student,
                "hard labels: fidelity": h["fidelity"],
                "best distilled: fidelity": d["fidelity"],
                "setting": d["setting"],
                "Δ fidelity": d["fidelity"] - h["fidelity"],
                "Δ accuracy": d["accuracy"] - h["accuracy"],
                "Δ top-5 agreement": d["feature_agreement_at_5"] - h["feature_agreement_at_5"],
            }
        )
    return pd.DataFrame(rows)


def write_report(
    results: pd.DataFrame,
    summary: pd.DataFrame,
    path: Path,
    args: argparse.Namespace,
    seconds: float,
    temperatures: Sequence[float],
    datasets: Sequence[str],
) -> list[str]:
    temp_table, winners = temperature_table(summary)
    # The temperature used in the headline comparisons: the soft tree's overall winner
    # without augmentation (one choice for all data sets, not a per-data-set pick).
    default_t = winners.get("soft tree, none", 4.0)
    tree_lines, wins, n, significant = tree_vs_cart(results, summary, default_t)
    command = "python -m benchmarks.fidelity" + (" --quick" if args.quick else "")
    first_run = results.iloc[0]
    seeds = sorted(results["seed"].unique())
    ebm_note = (
        "InterpretML's `ExplainableBoostingClassifier(outer_bags=1)` (default settings "
        "otherwise) on the first seed(s) only, as many as the table below says: it is the "
        "slowest fit by far; on adult and the synthetic set it is fitted on a "
        f"{LARGE.ebm_max_rows:,}-row sample of the training rows"
        if args.ebm
        else "EBM not run (`interpret` not installed, or `--no-ebm`/`--quick`)"
    )
    lines = [
        "# Fidelity and accuracy: distilled students vs global surrogates",
        "",
        f"Generated by `{command}` in {seconds / 60:.1f} minutes ({args.jobs} worker "
        f"processes, {args.threads} torch thread each) on {common.machine_line()}",
        "",
        "Versions: "
        + ", ".join(f"{k} {v}" for k, v in common.package_versions().items())
        + ". Raw rows: "
        + f"[{path.with_suffix('.csv').name}]({path.with_suffix('.csv').name}) (one row per "
        "data set x model x setting x seed).",
        "",
        "## Set-up",
        "",
        f"- Seeds: {', '.join(map(str, seeds))}; each seed draws its own stratified 70/30 "
        "split, teacher, students and augmentation. Intervals: 95% t interval of the mean "
        "over seeds. Paired differences: same seeds, difference first, then the interval.",
        "- Teacher: `MLPTeacher()` (64-64 ReLU, dropout 0.1, early stopping) with the batch "
        "size and epoch cap below.",
        f"- Students: `SoftLogisticRegression()`, `ShallowMLPClassifier()` (16 hidden units), "
        f"`SoftDecisionTreeClassifier(depth={TREE_DEPTH})` (16 leaves), library defaults "
        "except the budget below. Hard labels: `student.fit(X, y)`. Distilled: "
        "`DistilledClassifier(teacher, student, temperature=T, augment=None | 'both', "
        "random_state=seed).fit(X, y)` with the library's default `hard_label_weight="
        f"{_library_default('hard_label_weight')}`; "
        f"temperatures {', '.join(f'{t:g}' for t in temperatures)}.",
        "- Baselines on the teacher's predicted labels of the training rows (the global "
        f"surrogate): `DecisionTreeClassifier(max_leaf_nodes={2**TREE_DEPTH})` and "
        "`LogisticRegression(max_iter=1000)`, each also on the augmented transfer set; "
        + ebm_note
        + ".",
        f"- Attribution agreement: `explain()` on {first_run['n_explain']} test "
        "rows per seed, background of "
        f"{first_run['max_background']} training rows, "
        f"{first_run['n_permutations']} permutations, the teacher's class; top-5 "
        "feature agreement with the teacher's explanation. The noise floor is the teacher "
        "against itself explained with another seed: agreement below it cannot be told "
        "apart from explanation noise.",
        "- KL divergence: KL(teacher || model) at T = 1, in nats, on the test rows. CART "
        "and EBM give hard or near-hard probabilities, so their KL is large by construction.",
        "",
        "| data set | train rows | features | classes | batch | max epochs | patience | "
        "learning rate | synthetic rows | teacher batch / epochs / lr | EBM seeds | "
        "teacher accuracy | noise floor (top-5) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for dataset in datasets:
        sub = results[results["dataset"] == dataset]
        if sub.empty:
            continue
        b = sub.iloc[0]
        lines.append(
            f"| {dataset} | {b['n_train']:,} | {b['n_features']} | {b['n_classes']} | "
            f"{b['batch_size']} | {b['max_epochs']} | {b['n_iter_no_change']} | "
            f"{b['learning_rate']:g} | "
            f"{'as many as train rows' if pd.isna(b['n_augment']) else f'{b.n_augment:,.0f}'} | "
            f"{b['teacher_batch_size']} / {b['teacher_max_epochs']} / "
            f"{b['teacher_learning_rate']:g} | "
            f"{sub.loc[sub['model'] == 'EBM', 'seed'].nunique()} | "
            f"{sub.groupby('seed')['teacher_accuracy'].first().mean():.3f} | "
            f"{sub.groupby('seed')['attribution_noise_floor_at_5'].first().mean():.2f} |"
        )
    lines += [
        "",
        f"## 1. Distilled soft tree vs CART with the same {2**TREE_DEPTH} leaves",
        "",
        f"Fidelity on the test rows. The soft tree's column uses one temperature for all "
        f"data sets, T = {default_t:g}: the soft tree's winner in the sweep (section 3). "
        f"'best setting' is the best of the {2 * len(temperatures)} distilled settings per data "
        "set, chosen on the "
        "test rows, so it is optimistic.",
        "",
        *tree_lines,
        "",
        f"**The distilled soft tree (T = {default_t:g}) is more faithful than the same-leaf "
        f"CART surrogate on {wins} of {n} data sets, on {significant} with a paired interval "
        "above 0** (the issue asks for at least 5 of 7).",
        "",
        "## 2. Best student vs best of what users pick today",
        "",
        "Best student: the highest mean fidelity over all students and settings (chosen on "
        "the test rows, so optimistic); best baseline: highest of CART, scikit-learn "
        "logistic regression and EBM on the teacher's labels (not augmented). Fit seconds: "
        "median over seeds, teacher not included (both need it). Ratio > 1: the student "
        "takes longer.",
        "",
        *best_vs_baselines(results, summary),
        "",
        "## 3. Temperature sweep",
        "",
        "Mean fidelity over the data sets at each temperature; 'wins': on how many data sets "
        "the temperature gives the highest mean fidelity; 'mean rank' of each temperature "
        "over the data sets (1 = best); 'winner': the highest mean fidelity (temperatures "
        "within 0.001 of it are told apart by the mean rank).",
        "",
        *common.markdown_table(
            temp_table,
            {c: "{:.4f}" for c in temp_table.columns if str(c).startswith("T=")},
            align_right=True,
        ),
        "",
        *temperature_notes(summary, winners),
        "",
        "![fidelity vs temperature](" + path.stem + "_temperature.png)",
        "",
        "## 4. Does distillation help? Best distilled setting vs the same student on hard labels",
        "",
        *common.markdown_table(
            distillation_gain_table(summary),
            {
                "hard labels: fidelity": "{:.3f}",
                "best distilled: fidelity": "{:.3f}",
                "Δ fidelity": "{:+.3f}",
                "Δ accuracy": "{:+.3f}",
                "Δ top-5 agreement": "{:+.2f}",
            },
        ),
        "",
        "## 5. Transfer-set augmentation: fidelity gain (augmented − not), mean over temperatures",
        "",
        *common.markdown_table(augmentation_table(summary), {s: "{:+.4f}" for s in STUDENTS}),
        "",
        "![best student vs baselines](" + path.stem + "_baselines.png)",
        "",
        "## 6. All results",
        "",
        "Mean [95% CI] over seeds. Fit s: median over seeds.",
        "",
    ]
    for dataset in summary["dataset"].unique():
        sub = summary[summary["dataset"] == dataset]
        lines += [
            f"### {dataset}",
            "",
            "| model | setting | accuracy | fidelity | KL | top-5 agreement | rank corr. | fit s |",
            "|---|---|---:|---:|---:|---:|---:|---:|",
        ]
        for _, row in sub.iterrows():
            lines.append(
                f"| {row['model']} | {row['setting']} | {_ci(row, 'accuracy')} | "
                f"{_ci(row, 'fidelity')} | {row['kl_divergence']:.3g} | "
                f"{_ci(row, 'feature_agreement_at_5', 2)} | {row['rank_correlation']:.2f} | "
                f"{row['fit_seconds_median']:.2f} |"
            )
        lines.append("")
    common.write_markdown(lines, path)
    return [
        f"soft tree beats same-leaf CART on {wins} of {n} data sets (T={default_t:g})",
        "temperature winners: " + ", ".join(f"{k}: T={v:g}" for k, v in winners.items()),
    ]


def temperature_notes(summary: pd.DataFrame, winners: dict[str, float]) -> list[str]:
    distilled = summary[summary["training"] == "distilled"]
    spread = distilled.groupby(["dataset", "model", "augment"])["fidelity"].agg(
        lambda s: s.max() - s.min()
    )
    best_t, means, ranks = recommended_temperature(summary)
    library_default = _library_default("temperature")
    notes = [
        "- Winners: " + "; ".join(f"{k}: T = {v:g}" for k, v in winners.items()) + ".",
        "- Over every data set x student without augmentation: mean fidelity "
        + ", ".join(f"T={t:g}: {means[t]:.4f}" for t in means.index)
        + "; mean rank "
        + ", ".join(f"T={t:g}: {ranks[t]:.2f}" for t in ranks.index)
        + f". **Suggested library default: temperature = {best_t:g}** (the library's "
        f"`DistilledClassifier` default is now {library_default}).",
        f"- How much the temperature matters: the gap between the best and the worst "
        f"temperature is {spread.median():.3f} fidelity in the median data set x student x "
        f"augmentation cell, {spread.max():.3f} at most "
        f"({' / '.join(map(str, spread.idxmax()))}).",
    ]
    return notes


def _library_default(parameter: str) -> str:
    """The current default of a ``DistilledClassifier`` parameter, as text (a number, or
    ``'auto'``), read from the signature so that the report follows the library."""
    default = inspect.signature(ikd.DistilledClassifier).parameters[parameter].default
    return f"{default:g}" if isinstance(default, int | float) else repr(default)


def _winner(mean: pd.Series, ranks: pd.Series) -> float:
    """Highest mean fidelity; temperatures within 0.001 of it are told apart by mean rank."""
    close = mean.index[mean >= mean.max() - 0.001]
    return float(ranks[close].idxmin())


def recommended_temperature(summary: pd.DataFrame) -> tuple[float, pd.Series, pd.Series]:
    """The winning temperature over every data set x student cell (distilled, without
    augmentation), with the mean fidelity and mean rank of each temperature."""
    distilled = summary[(summary["training"] == "distilled") & (summary["augment"] == "none")]
    pivot = distilled.pivot_table(
        index=["dataset", "model"], columns="temperature", values="fidelity"
    )
    mean = pivot.mean(axis=0)
    ranks = pivot.rank(axis=1, ascending=False).mean(axis=0)
    return _winner(mean, ranks), mean, ranks


def headline(results: pd.DataFrame, summary: pd.DataFrame, stem: str) -> list[str]:
    """The summary's fidelity section: one table and the verdicts (used by the runner)."""
    _, winners = temperature_table(summary)
    default_t = winners.get("soft tree, none", 4.0)
    _, wins, n, significant = tree_vs_cart(results, summary, default_t)
    best_t, means, ranks = recommended_temperature(summary)
    rows = []
    for dataset in summary["dataset"].unique():
        sub = summary[summary["dataset"] == dataset]
        students = sub[sub["family"] == "student"]
        baselines = sub[(sub["family"] == "baseline") & (sub["augment"] == "none")]
        if students.empty or baselines.empty:
            continue
        s = students.loc[students["fidelity"].idxmax()]
        b = baselines.loc[baselines["fidelity"].idxmax()]
        tree = pick(
            sub, model="soft tree", training="distilled", temperature=default_t, augment="none"
        )
        cart = pick(sub, model="CART (16 leaves)", augment="none")
        logistic = pick(sub, model="sklearn logistic", augment="none")
        ebm = pick(sub, model="EBM")
        rows.append(
            {
                "data set": dataset,
                "teacher acc.": s["teacher_accuracy"],
                "best student (setting)": f"{s['model']} ({s['setting']})",
                "its fidelity": s["fidelity"],
                f"soft tree T={default_t:g}": math.nan if tree is None else tree["fidelity"],
                "CART 16 leaves": math.nan if cart is None else cart["fidelity"],
                "sklearn logistic": math.nan if logistic is None else logistic["fidelity"],
                "EBM": math.nan if ebm is None else ebm["fidelity"],
                "fit time, best student / best baseline": f"{s['fit_seconds_median']:.2f} s / "
                f"{b['fit_seconds_median']:.2f} s ({model_name(b)}) = "
                f"{s['fit_seconds_median'] / b['fit_seconds_median']:.2g}x",
            }
        )
    table = pd.DataFrame(rows)
    fmt = {
        c: "{:.3f}"
        for c in table.columns
        if c not in ("data set", "best student (setting)", "fit time, best student / best baseline")
    }
    gains = distillation_gain_table(summary)
    helped = gains[gains["Δ fidelity"] > 0.005]
    hurt = gains[gains["Δ fidelity"] < -0.005]
    augmentation = augmentation_table(summary)
    lines = [
        f"Mean fidelity on held-out rows over {results['seed'].nunique()} seed(s); "
        f"95% intervals and every setting in [{stem}.md]({stem}.md); raw rows in "
        f"[{stem}.csv]({stem}.csv); plots: [temperature]({stem}_temperature.png), "
        f"[baselines]({stem}_baselines.png). 'best student' is chosen on the test rows "
        "(optimistic); baselines are fitted on the teacher's labels of the training rows.",
        "",
        *common.markdown_table(table, fmt),
        "",
        f"- **Distilled soft tree (T = {default_t:g}) vs CART with the same 16 leaves: more "
        f"faithful on {wins} of {n} data sets, on {significant} with a paired 95% interval "
        f"above 0** (section 1 of [{stem}.md]({stem}.md) says where it is not, and why).",
        "- **Temperature:** winners (highest mean fidelity over the data sets): "
        + "; ".join(f"{k}: T = {v:g}" for k, v in winners.items())
        + f". Over every data set x student without augmentation T = {best_t:g} wins "
        "(mean fidelity / mean rank: "
        + ", ".join(f"T={t:g}: {means[t]:.4f} / {ranks[t]:.2f}" for t in ranks.index)
        + ").",
        f"- **Distillation vs the same student on hard labels:** the best distilled setting "
        f"is more faithful (by > 0.005) in {len(helped)} of {len(gains)} data set x student "
        f"cells and less faithful in {len(hurt)}"
        + (
            " (" + ", ".join(f"{r['data set']} / {r['student']}" for _, r in hurt.iterrows()) + ")"
            if not hurt.empty
            else ""
        )
        + ".",
    ]
    if not augmentation.empty:
        values = augmentation.set_index("data set")
        lines.append(
            "- **Augmentation** (mean fidelity gain over temperatures, per student): "
            + "; ".join(
                f"{d}: " + ", ".join(f"{c} {values.loc[d, c]:+.3f}" for c in values.columns)
                for d in values.index
            )
            + "."
        )
    return [*lines, ""]


# --------------------------------------------------------------------------- plots
def plot_temperature(summary: pd.DataFrame, path: Path) -> None:
    plt = common.pyplot()
    students = [s for s in STUDENTS if s in set(summary["model"])]
    fig, axes = plt.subplots(1, len(students), figsize=(5 * len(students), 4.2), sharey=False)
    axes = np.atleast_1d(axes)
    datasets = list(summary["dataset"].unique())
    colors = plt.get_cmap("tab10")
    temps = sorted(summary["temperature"].dropna().unique())
    # "hard labels" sits one step left of the lowest temperature (log2 scale).
    hard_x = float(np.log2(temps[0])) - 1 if temps else -1.0
    for ax, student in zip(axes, students, strict=True):
        for i, dataset in enumerate(datasets):
            sub = summary[(summary["dataset"] == dataset) & (summary["model"] == student)]
            hard = sub[sub["training"] == "hard labels"]
            for augment, style in (("none", "-"), (AUGMENT, "--")):
                line = sub[(sub["training"] == "distilled") & (sub["augment"] == augment)]
                line = line.sort_values("temperature")
                ax.plot(
                    np.log2(line["temperature"]),
                    line["fidelity"],
                    style,
                    marker="o",
                    color=colors(i),
                    label=dataset if augment == "none" else None,
                )
            if not hard.empty:
                ax.plot([hard_x], hard["fidelity"], marker="s", color=colors(i), linestyle="none")
        ax.set_xticks([hard_x, *np.log2(temps)], ["hard", *[f"{t:g}" for t in temps]])
        ax.set_xlabel("temperature (solid: no augmentation, dashed: augmented)")
        ax.set_ylabel("fidelity to the teacher (test rows)")
        ax.set_title(student)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Fidelity vs distillation temperature (mean over seeds)")
    fig.tight_layout()
    common.save_figure(fig, path)


def plot_baselines(summary: pd.DataFrame, path: Path, default_t: float) -> None:
    plt = common.pyplot()
    datasets = list(summary["dataset"].unique())
    entries: list[tuple[str, Callable[[pd.DataFrame], pd.Series | None]]] = [
        (
            "best student",
            lambda sub: (
                None
                if sub[sub["family"] == "student"].empty
                else sub.loc[sub[sub["family"] == "student"]["fidelity"].idxmax()]
            ),
        ),
        (
            f"soft tree, T={default_t:g}",
            lambda sub: pick(
                sub, model="soft tree", training="distilled", temperature=default_t, augment="none"
            ),
        ),
        ("CART (16 leaves)", lambda sub: pick(sub, model="CART (16 leaves)", augment="none")),
        ("sklearn logistic", lambda sub: pick(sub, model="sklearn logistic", augment="none")),
        ("EBM", lambda sub: pick(sub, model="EBM")),
    ]
    fig, ax = plt.subplots(figsize=(max(7, 1.4 * len(datasets)), 4.8))
    width = 0.8 / len(entries)
    lowest = 1.0
    for j, (label, get) in enumerate(entries):
        means, errs, xs = [], [[], []], []
        for i, dataset in enumerate(datasets):
            row = get(summary[summary["dataset"] == dataset])
            if row is None:
                continue
            xs.append(i + (j - (len(entries) - 1) / 2) * width)
            means.append(row["fidelity"])
            low = row["fidelity_low"] if not math.isnan(row["fidelity_low"]) else row["fidelity"]
            high = row["fidelity_high"] if not math.isnan(row["fidelity_high"]) else row["fidelity"]
            errs[0].append(row["fidelity"] - low)
            errs[1].append(high - row["fidelity"])
        if xs:
            ax.bar(xs, means, width, yerr=errs, capsize=2, label=label)
            lowest = min(lowest, *means)
    ax.set_xticks(range(len(datasets)), datasets, rotation=20)
    ax.set_ylim(max(0.0, lowest - 0.03), 1.0)
    ax.set_ylabel("fidelity to the teacher (test rows)")
    ax.set_title("Students vs global surrogates on the teacher's labels (mean, 95% CI)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=len(entries))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    common.save_figure(fig, path)


# --------------------------------------------------------------------------- main
def _init_worker(threads: int) -> None:
    common.set_threads(threads)
    _quiet()


def _quiet() -> None:
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module="interpret")


def run_task(
    task: tuple[str, int, Budget, Sequence[float], bool],
) -> tuple[list[dict[str, Any]], list[str]]:
    """One data set and seed (run in a worker process); returns the rows and log lines."""
    dataset, seed, budget, temperatures, with_ebm = task
    lines: list[str] = []
    start = time.perf_counter()
    records = run_seed(dataset, seed, budget, temperatures, with_ebm, lines.append)
    lines.append(f"  {dataset} seed {seed} done in {time.perf_counter() - start:.1f} s")
    return records, lines


def quick_budget(budget: Budget) -> Budget:
    return replace(budget, max_epochs=min(budget.max_epochs, 30), teacher_epochs=60, n_explain=20)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="3 small data sets, 2 seeds, T 0.25, 1 and 4"
    )
    parser.add_argument("--out", type=Path, default=common.OUT_DIR, help="output folder")
    parser.add_argument("--datasets", default=None, help="comma-separated subset of data sets")
    parser.add_argument(
        "--seeds", type=int, default=None, help="number of seeds (default 5, quick 2)"
    )
    parser.add_argument("--no-ebm", action="store_true", help="skip ExplainableBoostingClassifier")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="worker processes, one (data set, seed) each (default: 2, one per core)",
    )
    parser.add_argument(
        "--from-csv",
        action="store_true",
        help="rewrite the report and plots from the CSV of an earlier run (no training)",
    )
    args = parser.parse_args(argv)
    common.set_threads(args.threads)
    _quiet()
    datasets = (
        tuple(args.datasets.split(","))
        if args.datasets
        else (QUICK_DATASETS if args.quick else DATASETS)
    )
    unknown = [d for d in datasets if d not in BUDGETS]
    if unknown:
        parser.error(f"unknown data sets {unknown}; choose from {', '.join(DATASETS)}")
    seeds = SEEDS[: args.seeds or (2 if args.quick else len(SEEDS))]
    temperatures = QUICK_TEMPERATURES if args.quick else TEMPERATURES
    args.ebm = ebm_available() and not args.no_ebm and not args.quick
    stem = common.stem(NAME, args.quick)
    out_csv = args.out / f"{stem}.csv"
    meta_path = args.out / f"{stem}_run.json"
    if args.from_csv:
        meta = json.loads(meta_path.read_text())
        for key in ("jobs", "threads", "ebm"):
            setattr(args, key, meta[key])
        results = pd.read_csv(out_csv)
        present = [d for d in DATASETS if d in set(results["dataset"])]
        return finish(results, args, meta["seconds"], meta["temperatures"], present, print)
    start = time.perf_counter()

    def log(text: str) -> None:
        print(f"[{time.perf_counter() - start:7.1f} s] {text}", flush=True)

    log(
        f"fidelity: {len(datasets)} data sets x {len(seeds)} seeds, temperatures "
        f"{list(temperatures)}, EBM {'on' if args.ebm else 'off'}"
    )
    tasks = []
    for dataset in datasets:
        budget = quick_budget(BUDGETS[dataset]) if args.quick else BUDGETS[dataset]
        for i, seed in enumerate(seeds):
            tasks.append((dataset, seed, budget, temperatures, args.ebm and i < budget.ebm_seeds))
    # Largest data sets first, so that the two workers finish at about the same time.
    order = {d: k for k, d in enumerate(reversed(DATASETS))}
    tasks.sort(key=lambda task: order.get(task[0], 0))
    results_by_task: dict[tuple[str, int], list[dict[str, Any]]] = {}
    if args.jobs <= 1:
        for task in tasks:
            records, lines = run_task(task)
            results_by_task[task[0], task[1]] = records
            for line in lines:
                log(line)
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            args.jobs, mp_context=context, initializer=_init_worker, initargs=(args.threads,)
        ) as pool:
            futures = {pool.submit(run_task, task): task for task in tasks}
            for future in as_completed(futures):
                task = futures[future]
                records, lines = future.result()
                results_by_task[task[0], task[1]] = records
                for line in lines:
                    log(line)
    records = [
        record
        for dataset in datasets
        for seed in seeds
        for record in results_by_task.get((dataset, seed), [])
    ]
    common.write_csv(pd.DataFrame(records), out_csv)
    seconds = time.perf_counter() - start
    common.write_json(
        {
            "seconds": seconds,
            "jobs": args.jobs,
            "threads": args.threads,
            "ebm": args.ebm,
            "temperatures": list(temperatures),
            "seeds": list(seeds),
        },
        meta_path,
    )
    return finish(pd.read_csv(out_csv), args, seconds, temperatures, datasets, log)


def finish(
    results: pd.DataFrame,
    args: argparse.Namespace,
    seconds: float,
    temperatures: Sequence[float],
    datasets: Sequence[str],
    log: Callable[[str], None],
) -> int:
    """Summary CSV, report and plots from the raw rows (read back from the CSV, so that a
    report rewritten with --from-csv is the same as the one written by the run)."""
    stem = common.stem(NAME, args.quick)
    summary = summarise(results)
    md_path = args.out / f"{stem}.md"
    plot_temperature(summary, args.out / f"{stem}_temperature.png")
    _, winners = temperature_table(summary)
    plot_baselines(summary, args.out / f"{stem}_baselines.png", winners.get("soft tree, none", 4.0))
    headline = write_report(results, summary, md_path, args, seconds, temperatures, datasets)
    common.write_csv(summary, args.out / f"{stem}_summary.csv")
    for line in headline:
        log(line)
    log(f"wrote {common.relative(md_path)}, {stem}.csv, {stem}_summary.csv and 2 PNGs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
