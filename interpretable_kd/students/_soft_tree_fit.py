"""How a soft decision tree is fitted around the shared loop: the CART start, the
validation score the weights are chosen by, the choice between the start and the
fine-tuned tree, and the training-row statistics its tables show.

Each function takes the estimator (``est``, a
:class:`~interpretable_kd.students.soft_tree.SoftDecisionTreeClassifier`) first; the class
calls them from its hooks. Rows here are standardised (what the network sees).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .._defaults import (
    SOFT_TREE_AUTO_FEATURES_PER_NODE,
    SOFT_TREE_INIT_SHARPNESS,
    SOFT_TREE_SPARSE_TOLERANCE,
)
from .._torch_utils import Targets, batched_inference
from .._validation import check_choice, check_number
from ..exceptions import ParameterError
from ._soft_tree_init import (
    cart_initialise,
    hard_leaf_index,
    keep_top_features,
    prediction_log_proba,
)

__all__ = [
    "check_params",
    "initialise_and_train",
    "record_statistics",
    "reference_labels",
    "validation_score",
]

# Rows per forward pass when recording the training-row statistics.
_STAT_ROWS = 8192


def reference_labels(targets: Targets) -> np.ndarray:
    """The class each row should get: the teacher's argmax, else the label.

    Parameters
    ----------
    targets : Targets
        Labels and/or the softened teacher (a teacher softened at any T keeps its argmax).

    Returns
    -------
    ndarray of shape (n_samples,), int64
        Class indices; -1 for rows with neither a teacher nor a label.
    """
    if targets.teacher_log_proba is not None:
        return targets.teacher_log_proba.argmax(dim=1).cpu().numpy().astype(np.int64)
    assert targets.y is not None  # fit() always passes labels
    return targets.y.cpu().numpy().astype(np.int64)


def validation_score(
    est: Any, module: torch.nn.Module, X_valid: torch.Tensor, targets_valid: Targets
) -> tuple[float, float]:
    """The score the weights are chosen by, and the fidelity in it.

    ``score = d + 0.5 * L / (1 + L) / n``: d the share of the n held-out rows (with a
    reference class) where the tree's ``prediction`` differs from the reference class
    (:func:`reference_labels`), L the objective without penalty. The loss term is below
    ``0.5 / n``, so it only breaks ties between equally faithful weights.

    Parameters
    ----------
    est : SoftDecisionTreeClassifier
        The estimator (its ``prediction`` and objective).
    module : _SoftTreeModule
        The network.
    X_valid : Tensor of shape (n, n_features)
        Standardised held-out rows.
    targets_valid : Targets
        Their targets.

    Returns
    -------
    score : float
        Lower is better.
    fidelity : float
        ``1 - d``.
    """
    with torch.no_grad():
        reference = torch.as_tensor(reference_labels(targets_valid), device=X_valid.device)
        predicted = prediction_log_proba(module, X_valid, est.prediction).argmax(dim=1)
        keep = reference >= 0
        n = int(keep.sum())
        loss = float(est._batch_loss(module, X_valid, targets_valid, False))
    if n == 0:
        return loss, float("nan")
    disagreement = float((predicted[keep] != reference[keep]).double().mean())
    tie_break = 0.5 * (loss / (1.0 + loss) if np.isfinite(loss) else 1.0) / n
    return disagreement + tie_break, 1.0 - disagreement


def initialise_and_train(
    est: Any,
    module: Any,
    X: np.ndarray,
    targets: Targets,
    seed: int,
    max_epochs: int,
    device: torch.device,
    run: Callable[..., tuple[list[dict[str, float]], int]],
) -> tuple[list[dict[str, Any]], int]:
    """The tree's ``_run_epochs``: split, start, fine-tune dense, prune, fine-tune sparse,
    choose.

    1. Draw the validation split once (``est._split``) and fix it for the loop.
    2. On a fresh fit with ``init="cart"``: :func:`~._soft_tree_init.cart_initialise` on
       the training part only (the held-out rows stay unseen, so their score is fair).
    3. Fine-tune every weight with the shared loop (``run``, which keeps its best epoch).
    4. With ``max_features_per_node = k`` below the number of features: keep each
       node's k largest weights (on standardised columns), then fine-tune again, for
       half the epoch budget, with the other weights held at 0 (``est._support_mask``,
       applied after every step). A refit of a fitted tree (``fine_tune``) skips step 3
       and keeps the current support.
    5. Keep the candidate with the lowest validation score (:func:`validation_score`):
       the start (projected to k features), the pruned tree or the sparse fine-tuned
       one, in that order of preference on ties, so the result is never less faithful
       on the held-out rows than the start. ``est._selection`` records every score.

    Parameters
    ----------
    est : SoftDecisionTreeClassifier
        The estimator.
    module : _SoftTreeModule
        The network on ``device``.
    X : ndarray of shape (n_samples, n_features), float32
        Standardised rows.
    targets : Targets
        Their targets.
    seed : int
        The fit's seed.
    max_epochs : int
        Epoch budget of the dense fine-tuning (half of it for the sparse one).
    device : torch.device
        Where training runs.
    run : callable
        The shared loop, ``TorchClassifier._run_epochs`` bound to ``est``.

    Returns
    -------
    history : list of dict
        The loop's records, each with ``phase`` ("dense" or "sparse").
    best_epoch : int
        The record whose weights the module holds (0: the start).
    """
    rng = np.random.default_rng(seed)
    train_index, valid_index = est._split(X.shape[0], targets, rng)
    fresh = bool(est.__dict__.get("_fresh_fit", False))
    if fresh and est.init == "cart":
        rows = torch.from_numpy(train_index)
        reference = reference_labels(targets.rows(rows))
        labelled = reference >= 0
        cart_initialise(
            module,
            X[train_index][labelled],
            reference[labelled],
            temperature=float(targets.temperature),
            sharpness=SOFT_TREE_INIT_SHARPNESS,
            seed=seed,
        )
    valid = None
    if valid_index is not None:
        index = torch.from_numpy(valid_index)
        valid = (torch.from_numpy(X[valid_index]).to(device), targets.rows(index).to(device))

    def candidate() -> dict[str, Any]:
        module.eval()
        score, fidelity = validation_score(est, module, *valid) if valid else (None, None)
        state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        return {"score": score, "fidelity": fidelity, "state": state}

    def phase(name: str, epochs: int) -> tuple[list[dict[str, Any]], int]:
        records, best = run(module, X, targets, seed, epochs, device)
        return [{**r, "phase": name} for r in records], best

    sizes = _support_sizes(est.max_features_per_node, X.shape[1])
    auto = est.max_features_per_node == "auto" and fresh
    if not fresh:  # a refit of a fitted tree keeps the sparsity it has
        widest = int(np.count_nonzero(module.inner.weight.detach().cpu().numpy(), axis=1).max())
        sizes = [widest] if widest < X.shape[1] else []
    weight = module.inner.weight
    dense_start = weight.detach().clone()
    keep_top_features(module, sizes[0] if sizes else None)
    start = candidate()
    if fresh:  # fine-tune from the unprojected start (a random one is dense)
        with torch.no_grad():
            weight.copy_(dense_start)
    est._fixed_split = (train_index, valid_index)
    history: list[dict[str, Any]] = []
    best_epoch = 0
    dense: dict[str, Any] | None = None
    options: list[tuple[str, dict[str, Any], int]] = [("init", start, 0)]
    tries: dict[int, float | None] = {}
    try:
        if fresh or not sizes:
            history, best_epoch = phase("dense", max_epochs)
            dense = candidate()
        accepted = False
        for size in sizes:
            if dense is not None:
                module.load_state_dict(dense["state"])
            keep_top_features(module, size)
            pruned = candidate()
            est._support_mask = (weight.detach() != 0).to(weight.dtype)
            epochs = max(1, max_epochs // 2) if fresh else max_epochs
            records, best = phase(f"sparse {size}", epochs)
            sparse_epoch = len(history) + best
            history += records
            trained = candidate()
            tries[size] = trained["fidelity"]
            ok = not auto or _close_enough(trained, dense)
            if ok:
                options += [
                    ("pruned", pruned, sparse_epoch - best),
                    ("trained", trained, sparse_epoch),
                ]
                accepted = True
                break
        if dense is not None and (not sizes or (auto and not accepted)):
            options.append(("dense", dense, best_epoch))
    finally:
        del est._fixed_split
        est.__dict__.pop("_support_mask", None)
    chosen, best_candidate, best_epoch = options[-1]
    if start["score"] is not None:
        chosen, best_candidate, best_epoch = min(options, key=lambda o: o[1]["score"])
    module.load_state_dict(best_candidate["state"])
    module.eval()
    est._selection = {
        "init": est.init if fresh else "fitted",
        "init_validation_score": start["score"],
        "init_validation_fidelity": start["fidelity"],
        "dense_validation_fidelity": None if dense is None else dense["fidelity"],
        "sparse_validation_fidelity": tries,
        "chosen_validation_score": best_candidate["score"],
        "chosen_validation_fidelity": best_candidate["fidelity"],
        "chosen": chosen,
    }
    return history, best_epoch


def _support_sizes(max_features: Any, n_features: int) -> list[int]:
    """The numbers of features per split to try, smallest first ([] for dense splits).

    ``"auto"``: ``SOFT_TREE_AUTO_FEATURES_PER_NODE`` below n_features; an int
    k < n_features: [k]; None or k >= n_features: [].
    """
    if max_features is None:
        return []
    if max_features == "auto":
        return [k for k in SOFT_TREE_AUTO_FEATURES_PER_NODE if k < n_features]
    return [int(max_features)] if int(max_features) < n_features else []


def _close_enough(sparse: dict[str, Any], dense: dict[str, Any] | None) -> bool:
    """Whether a sparse candidate's validation fidelity is within
    ``SOFT_TREE_SPARSE_TOLERANCE`` of the dense tree's (True without a score)."""
    if dense is None or sparse["fidelity"] is None or dense["fidelity"] is None:
        return True
    return bool(sparse["fidelity"] >= dense["fidelity"] - SOFT_TREE_SPARSE_TOLERANCE)


def record_statistics(est: Any, X: np.ndarray, targets: Targets) -> None:
    """Store how the training rows spread over the tree, for the tables and rules.

    Sets ``leaf_counts_`` (rows per assigned leaf), ``leaf_mean_path_probability_``,
    ``node_reach_`` (share of rows whose leaf lies below each node),
    ``node_mean_path_probability_`` and the reference-class counts
    ``leaf_class_counts_`` (n_leaves, K) and ``node_class_counts_`` (n_inner, K), reducing
    chunk by chunk so that no (n_samples, n_leaves) array is kept.

    Parameters
    ----------
    est : SoftDecisionTreeClassifier
        The fitted estimator.
    X : ndarray of shape (n_samples, n_features), float32
        Standardised training rows.
    targets : Targets
        Their targets (for the reference classes).
    """
    module = est.module_
    depth = int(module.depth)
    n_leaves, n_classes = 2**depth, len(est.classes_)
    mode = est.prediction

    def summarise(m: Any, x: torch.Tensor) -> tuple[np.ndarray, ...]:
        log_leaf, log_reach, _ = m(x)
        leaf = hard_leaf_index(m, x) if mode == "hard_path" else log_leaf.argmax(dim=1)
        # (the rule of assigned_leaf, sharing the forward pass computed here)
        return (
            leaf.cpu().numpy(),
            log_leaf.double().exp().sum(dim=0).cpu().numpy(),
            log_reach.double().exp().sum(dim=0).cpu().numpy(),
        )

    parts = batched_inference(module, X, summarise, _STAT_ROWS)
    leaf = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    reference = reference_labels(targets)
    labelled = reference >= 0
    leaf_classes = np.zeros((n_leaves, n_classes), dtype=np.int64)
    np.add.at(leaf_classes, (leaf[labelled], reference[labelled]), 1)
    counts = np.bincount(leaf, minlength=n_leaves).astype(np.int64)
    n_rows = max(X.shape[0], 1)
    reach = np.empty(n_leaves - 1)
    node_classes = np.zeros((n_leaves - 1, n_classes), dtype=np.int64)
    for level in range(depth):
        # the leaves under the nodes of one level form contiguous, equal blocks
        nodes = slice(2**level - 1, 2 ** (level + 1) - 1)
        reach[nodes] = counts.reshape(2**level, -1).sum(axis=1) / n_rows
        node_classes[nodes] = leaf_classes.reshape(2**level, -1, n_classes).sum(axis=1)
    est.leaf_counts_ = counts
    est.leaf_mean_path_probability_ = (
        sum(p[1] for p in parts) / n_rows if parts else np.zeros(n_leaves)
    )
    est.node_reach_ = reach
    est.node_mean_path_probability_ = (
        sum(p[2] for p in parts) / n_rows if parts else np.zeros(n_leaves - 1)
    )
    est.leaf_class_counts_ = leaf_classes
    est.node_class_counts_ = node_classes


def check_params(
    est: Any,
    max_depth: int,
    inits: tuple[str, ...],
    losses: tuple[str, ...],
    predictions: tuple[str, ...],
) -> None:
    """Check the tree's own hyperparameters (``_check_params``).

    Parameters
    ----------
    est : SoftDecisionTreeClassifier
        The estimator.
    max_depth : int
        The largest depth allowed.
    inits, losses, predictions : tuple of str
        The accepted ``init``, ``loss`` and ``prediction``.

    Raises
    ------
    ParameterError, InputTypeError
        Naming the first bad parameter.
    """
    owner = type(est).__name__
    depth = check_number(est.depth, "depth", owner, integer=True)
    if not 1 <= depth <= max_depth:
        raise ParameterError(
            f"The 'depth' parameter of {owner} must be an int in the range "
            f"[1, {max_depth}]. Got {est.depth!r} instead. A tree of depth d has 2^d "
            f"leaves (depth {max_depth}: {2**max_depth:,}); a tree that someone reads "
            "rarely needs more than 8."
        )
    check_choice(est.init, "init", owner, list(inits))
    if isinstance(est.max_features_per_node, str):
        if est.max_features_per_node != "auto":
            raise ParameterError(
                f"The 'max_features_per_node' parameter of {owner} must be 'auto', an int "
                f">= 1 or None. Got {est.max_features_per_node!r} instead. Use 'auto' (the "
                "default: at most 5 or 10 features per split when that costs at most 1 point "
                "of validation fidelity), e.g. 3 for at most 3, or None for dense splits."
            )
    else:
        check_number(
            est.max_features_per_node,
            "max_features_per_node",
            owner,
            integer=True,
            low=1,
            allow_none=True,
        )
    check_number(est.inverse_temperature, "inverse_temperature", owner, low=0.0, closed="neither")
    check_choice(est.learn_inverse_temperature, "learn_inverse_temperature", owner, [True, False])
    check_number(est.penalty_strength, "penalty_strength", owner, low=0.0)
    check_number(est.penalty_decay, "penalty_decay", owner, low=0.0, high=1.0, closed="left")
    check_choice(est.loss, "loss", owner, list(losses))
    check_choice(est.prediction, "prediction", owner, list(predictions))
