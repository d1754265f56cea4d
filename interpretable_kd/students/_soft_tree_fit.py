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
from ._soft_tree_tao import tao_initialise

__all__ = [
    "check_params",
    "initialise_and_train",
    "record_statistics",
    "reference_labels",
    "reuse_search",
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
    """The tree's ``_run_epochs``: split, CART start, TAO, fine-tune on the support, choose.

    1. Draw the validation split once (``est._split``) and fix it for the loop.
    2. k = :func:`support_size` (``max_features_per_node``: an int k, None for dense).
    3. On a fresh fit with ``init="cart"``: :func:`~._soft_tree_init.cart_initialise`
       on the training part only (the held-out rows stay unseen, so their scores are
       fair), then :func:`~._soft_tree_tao.tao_initialise`: TAO passes turn the CART
       into a hard tree with oblique splits of at most k features that is at least as
       faithful on the training rows. With "auto", TAO runs from the CART with dense
       splits, then with 5 and, if needed, 10 features per split
       (``SOFT_TREE_AUTO_FEATURES_PER_NODE``), and k is the first whose TAO tree is
       within ``SOFT_TREE_SPARSE_TOLERANCE`` (1 point) of the dense TAO tree's
       validation fidelity, else dense. After :func:`reuse_search` (the final fit of
       ``temperature="auto"``) the sparse sizes are tried in another order: first the
       k the search chose on its rows (the widest, 10, when it chose dense), then the
       others: when that k is 10 and passes, the TAO run with 5 is skipped (two runs,
       not three); the result is within the same tolerance of the dense TAO tree, but
       may be 10 where 5 was also within it.
       With ``init="random"``, every split keeps its k largest weights. A refit of a
       fitted tree (``fine_tune``, a search candidate's continuation) keeps its own
       support and records the k of the fit that made it.
    4. Fine-tune with the shared loop (``run``, which keeps its best epoch), every weight
       outside each split's support held at 0 (``est._support_mask``, applied after
       every step) when k is below the number of features.
    5. Keep the candidate with the lowest validation score (:func:`validation_score`):
       the CART start, the TAO tree, the fine-tuned tree, in that order of preference
       on ties, so the result is never less faithful on the held-out rows than the CART
       of the same depth. ``est._selection`` records every score.

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
        Epoch budget of the fine-tuning.
    device : torch.device
        Where training runs.
    run : callable
        The shared loop, ``TorchClassifier._run_epochs`` bound to ``est``.

    Returns
    -------
    history : list of dict
        The loop's records, each with ``phase`` ("dense" or "sparse k").
    best_epoch : int
        The record whose weights the module holds (0: a start).
    """
    rng = np.random.default_rng(seed)
    train_index, valid_index = est._split(X.shape[0], targets, rng)
    fresh = bool(est.__dict__.get("_fresh_fit", False))
    carried = est.__dict__.pop("_search_features_per_node", None)  # from reuse_search
    n_features = X.shape[1]
    size = support_size(est.max_features_per_node, n_features)
    source = "parameter"
    if not fresh:  # a refit of a fitted tree keeps the sparsity it has
        widest = int(np.count_nonzero(module.inner.weight.detach().cpu().numpy(), axis=1).max())
        size = widest if widest < n_features else None
        source = "fitted tree"
    valid = None
    if valid_index is not None:
        index = torch.from_numpy(valid_index)
        valid = (torch.from_numpy(X[valid_index]).to(device), targets.rows(index).to(device))

    def candidate() -> dict[str, Any]:
        module.eval()
        score, fidelity = validation_score(est, module, *valid) if valid else (None, None)
        state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        return {"score": score, "fidelity": fidelity, "state": state}

    options: list[tuple[str, dict[str, Any], int]] = []
    tao_disagreement: list[float] | None = None
    tao_tries: dict[Any, Any] = {}
    if fresh and est.init == "cart":
        rows = torch.from_numpy(train_index)
        reference = reference_labels(targets.rows(rows))
        labelled = reference >= 0
        X_start, reference = X[train_index][labelled], reference[labelled]
        temperature = float(targets.temperature)
        cart_initialise(
            module,
            X_start,
            reference,
            temperature=temperature,
            sharpness=SOFT_TREE_INIT_SHARPNESS,
            seed=seed,
        )
        cart_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
        sizes = [size]
        if est.max_features_per_node == "auto" and size is not None:
            sizes = [None] + [k for k in SOFT_TREE_AUTO_FEATURES_PER_NODE if k < n_features]
            source = "validation"
            if carried is not None and len(sizes) > 2:  # the search's size is tried first
                hint = carried[0] if carried[0] in sizes[1:] else sizes[-1]
                sizes = [None, hint] + [k for k in sizes[1:] if k != hint]
                source = "validation, the search's size first"
        tried: dict[int | None, tuple[dict[str, Any], list[float]]] = {}
        for k in sizes:  # "auto": dense first, then 5, 10 until one is close enough
            module.load_state_dict(cart_state)
            keep_top_features(module, k)  # the symmetry breakers below shallow leaves
            tao = tao_initialise(
                module,
                X_start,
                reference,
                max_features=k,
                temperature=temperature,
                sharpness=SOFT_TREE_INIT_SHARPNESS,
                seed=seed,
            )
            tried[k] = (candidate(), tao.disagreement)
            size = k
            if k is not None and _close_enough(tried[k][0], tried[sizes[0]][0]):
                break
        else:
            size = sizes[0]  # no sparse size within the tolerance: dense splits
        tao_tries = {("dense" if k is None else k): t[0]["fidelity"] for k, t in tried.items()}
        module.load_state_dict(cart_state)
        keep_top_features(module, size)
        options.append(("cart", candidate(), 0))
        tao_state, tao_disagreement = tried[size]
        module.load_state_dict(tao_state["state"])
        options.append(("tao", tao_state, 0))
    else:
        keep_top_features(module, size)
        options.append(("init", candidate(), 0))
    est._fixed_split = (train_index, valid_index)
    if size is not None:
        weight = module.inner.weight
        est._support_mask = (weight.detach() != 0).to(weight.dtype)
    try:
        records, best_epoch = run(module, X, targets, seed, max_epochs, device)
    finally:
        del est._fixed_split
        est.__dict__.pop("_support_mask", None)
    name = "dense" if size is None else f"sparse {size}"
    history: list[dict[str, Any]] = [{**r, "phase": name} for r in records]
    trained = candidate()
    options.append(("trained", trained, best_epoch))
    chosen, best_candidate, best_epoch = options[-1]
    if options[0][1]["score"] is not None:
        chosen, best_candidate, best_epoch = min(options, key=lambda o: o[1]["score"])
    module.load_state_dict(best_candidate["state"])
    module.eval()
    fidelities = {o[0]: o[1]["fidelity"] for o in options}
    if fresh:  # kept by refits (a private name: ``_start_fit`` forgets selection_)
        est._fitted_features_per_node = (size,)
    else:  # the k of the fit that made the tree, not its widest split
        size = est.__dict__.get("_fitted_features_per_node", (size,))[0]
    est._selection = {
        "init": est.init if fresh else "fitted",
        "init_validation_score": options[0][1]["score"],
        "init_validation_fidelity": options[0][1]["fidelity"],
        "tao_validation_fidelity": fidelities.get("tao"),
        "tao_training_disagreement": tao_disagreement,
        "tao_validation_fidelity_by_size": tao_tries,
        "trained_validation_fidelity": trained["fidelity"],
        "max_features_per_node": size,
        "max_features_per_node_from": source,
        "chosen_validation_score": best_candidate["score"],
        "chosen_validation_fidelity": best_candidate["fidelity"],
        "chosen": chosen,
    }
    return history, best_epoch


def reuse_search(est: Any, candidate: Any) -> None:
    """Carry the search's sparsity into the final fit (``TorchClassifier._reuse_search``).

    With ``max_features_per_node="auto"`` and ``init="cart"``, the k (or None for dense)
    that the chosen candidate of ``temperature="auto"`` resolved (its
    ``selection_["max_features_per_node"]``: chosen on the search's rows by the rule of
    :func:`initialise_and_train`, then kept by the candidate's continuation) is tried
    first by the next fresh fit of ``est``, after the dense TAO tree it is checked
    against (``selection_["max_features_per_node_from"]`` is then
    ``"validation, the search's size first"``). The check is not skipped: the search
    chooses on a tenth of at most 4,000 rows, where one point of fidelity is a few rows,
    and carried unchecked its size cost up to 1.5 points of test fidelity (adult).
    Anything else: nothing is carried.

    Parameters
    ----------
    est : SoftDecisionTreeClassifier
        The unfitted final student.
    candidate : TorchClassifier
        The search's candidate fitted at the chosen temperature (same parameters).
    """
    selection = candidate.__dict__.get("selection_")
    if (
        est.max_features_per_node != "auto"
        or est.init != "cart"
        or type(candidate) is not type(est)
        or candidate.max_features_per_node != "auto"
        or not isinstance(selection, dict)
        or "max_features_per_node" not in selection
    ):
        return
    est._search_features_per_node = (selection["max_features_per_node"],)


def support_size(max_features: Any, n_features: int) -> int | None:
    """The most features per split, or None for dense splits.

    ``"auto"``: the first of ``SOFT_TREE_AUTO_FEATURES_PER_NODE`` (5; the fit may widen
    it, :func:`initialise_and_train`); an int k: k; None: None. A size of at least
    n_features is dense (None).
    """
    if max_features is None:
        return None
    k = SOFT_TREE_AUTO_FEATURES_PER_NODE[0] if max_features == "auto" else int(max_features)
    return k if k < n_features else None


def _close_enough(sparse: dict[str, Any], dense: dict[str, Any]) -> bool:
    """Whether a sparse candidate's validation fidelity is within
    ``SOFT_TREE_SPARSE_TOLERANCE`` of the dense one's (True without a score)."""
    if sparse["fidelity"] is None or dense["fidelity"] is None:
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
                "default: at most 5, else 10 features per split when that costs at most 1 point "
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
