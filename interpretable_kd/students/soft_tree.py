"""Soft decision tree student (Frosst and Hinton, 2017).

Frosst, N. and Hinton, G. (2017), "Distilling a Neural Network Into a Soft Decision
Tree", arXiv:1711.09784.

A tree of depth d has 2^d - 1 inner nodes and 2^d leaves. Inner node i sends a row x to
its right child with probability

    p_i(x) = sigmoid(beta * (w_i . x + b_i))

(``beta`` is the inverse temperature: fixed, or one learned scalar), and leaf l holds a
class distribution ``Q_l = softmax(phi_l)`` that does not depend on x. The path
probability P_l(x) of leaf l is the product of the branch probabilities on the way from
the root to l; the P_l(x) of one row sum to 1.

Nodes are numbered in heap order: the root is node 0, the children of node i are
2i + 1 (left) and 2i + 2 (right), the nodes at depth k are 2^k - 1 ... 2^(k+1) - 2.
Leaf l is the l-th node at depth d, counted from the left.

Computation: every inner node's ``w_i . x + b_i`` comes from one matrix multiply; path
probabilities are built one depth level at a time in log space (``logsigmoid``), so a
depth-12 tree, whose path probabilities reach 1e-50 and below, still has finite
log-probabilities, a finite loss and finite predictions. There is no Python loop over
nodes, only over the d levels.

Training objective on a batch (T the distillation temperature, w the hard-label weight,
p_T the teacher's distribution softened at T, y the true label):

    L = w * H + (1 - w) * T^2 * S + C

with H and S the paper's path-weighted terms (``loss="paper"``) or the terms of the tree's
averaged prediction (``loss="mixture"``); both are written out, and computed, in
:func:`interpretable_kd.losses.soft_tree_kd_loss`. The leaf distributions are softened at
the same temperature as the teacher (``softmax(phi_l / T)``), exactly as the student
logits are in Hinton et al. (2015); the branch probabilities are decisions, not class
scores, and are never softened.

C is the paper's balancing penalty, smoothed over batches by a running average whose
window grows with depth (``penalty_strength``, ``penalty_decay``): see
:mod:`~interpretable_kd.students._soft_tree_module`.

How a fit starts (``init``), how the weights are chosen (validation fidelity), the hard
path and the readers in the original units: see the class docstring,
:mod:`~interpretable_kd.students._soft_tree_init` and
:mod:`~interpretable_kd.students._soft_tree_rules`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._defaults import (
    BATCH_SIZE,
    MAX_EPOCHS,
    N_ITER_NO_CHANGE,
    SOFT_TREE_MAX_FEATURES_PER_NODE,
)
from .._training import Targets, TorchClassifier, batched_inference
from .._validation import check_fitted, check_X
from . import _soft_tree_fit as fitting
from . import _soft_tree_rules as rules
from . import _soft_tree_views as views
from ._soft_tree_init import assigned_leaf as _assigned_leaf
from ._soft_tree_init import prediction_log_proba as _prediction_log_proba
from ._soft_tree_init import tree_loss as _tree_loss
from ._soft_tree_module import (
    _SoftTreeModule,
    balancing_penalty,
    right_share,
    smoothed_penalty,
)
from ._soft_tree_views import DecisionStep, FeatureContribution

__all__ = [
    "DecisionStep",
    "FeatureContribution",
    "SoftDecisionTreeClassifier",
    "balancing_penalty",
    "right_share",
]

MAX_DEPTH = 16
LOSSES = ("paper", "mixture")
PREDICTIONS = ("hard_path", "max_path", "mixture")
INITS = ("cart", "random")
# Rows x leaves x classes kept in memory at once when predicting with a large tree.
_CHUNK_ELEMENTS = 1 << 24


# ---------------------------------------------------------------------------- estimator
class SoftDecisionTreeClassifier(TorchClassifier):
    """Soft decision tree (Frosst and Hinton, 2017) trained by the shared torch loop.

    Read the module docstring for the model, the losses and the balancing penalty. Train
    on labels with :meth:`fit`, or on a teacher through
    :class:`~interpretable_kd.DistilledClassifier`. Columns may be on any scale: the
    network sees standardised rows ``z = (x - x_mean_) / x_scale_``, and every reader
    (:attr:`node_weights_`, :meth:`node_table`, :meth:`explain`, :meth:`to_text`,
    :meth:`to_rules`) is in the original units.

    How a fit runs (defaults): the shared loop's validation split is drawn; a CART of
    the same depth is fitted on the training part's reference labels (the teacher's
    argmax, or the labels) and laid onto the tree (``init="cart"``,
    :mod:`~interpretable_kd.students._soft_tree_init`: it then predicts exactly what the
    CART predicts); TAO (tree alternating optimisation, Carreira-Perpinan and
    Tavallali, 2018; :mod:`~interpretable_kd.students._soft_tree_tao`) then refits one
    split at a time, as a hard tree, with sparse oblique splits of at most k features,
    never raising the training disagreement; the splits are fine-tuned with the
    distillation objective, every weight outside a split's k features held at 0
    (``max_features_per_node="auto"``: k = 5, else 10 when 5 costs more than 1 point
    of validation fidelity against TAO with dense splits, else dense).
    The weights kept are those with the lowest validation score
    (:meth:`_validation_score`: the share of held-out rows where the tree's
    ``prediction`` disagrees with the teacher, the loss breaking ties) among the CART
    start, the TAO tree and the fine-tuned tree, so the fitted tree is never less
    faithful on the held-out rows than the CART it started from
    (:func:`~._soft_tree_fit.initialise_and_train`).

    Args:
        depth: d, 1 <= d <= 16: 2^d - 1 inner nodes and 2^d leaves.
        init: "cart" (start from a CART of depth d on the teacher's labels, see above) or
            "random" (small random weights, as in the paper).
        max_features_per_node: "auto" (above), an int k (TAO fits splits of at most k
            features and the fine-tuning keeps them; with ``init="random"`` every split
            keeps its k largest weights, on standardised columns) or None (dense
            oblique splits).
        inverse_temperature: beta > 0 in ``p_i(x) = sigmoid(beta * (w_i . x + b_i))``; the
            starting value when ``learn_inverse_temperature`` is True. Larger values give
            harder decisions.
        learn_inverse_temperature: learn beta (one scalar, through ``log beta``) with the
            other parameters, instead of keeping it fixed.
        penalty_strength: lambda >= 0, the weight of the balancing penalty (0 turns it off).
        penalty_decay: in [0, 1): the decay of the root's running average of its right
            share; a node at depth k decays by ``1 - (1 - penalty_decay) * 2^(-k)``, a
            window of ``2^k / (1 - penalty_decay)`` batches.
        loss: "paper" (path-probability-weighted leaf cross-entropy, as in the paper) or
            "mixture" (cross-entropy of ``sum_l P_l(x) Q_l``).
        prediction: "hard_path" (at every node the more probable branch, down to one
            leaf: the tree read as rules, :meth:`to_rules`), "max_path" (the leaf with the
            highest path probability, the paper's explainable decision; the same leaf as
            "hard_path" unless a row sits near several thresholds) or "mixture"
            (``sum_l P_l(x) Q_l``). ``predict_proba``, ``predict``, the validation score
            and the leaf statistics follow it.
        max_epochs, batch_size, learning_rate, weight_decay, early_stopping,
        validation_fraction, n_iter_no_change, tol, random_state, verbose, device, n_jobs:
            the shared training loop's settings (see ``TorchClassifier``).

    Attributes:
        n_leaves_: 2^depth.
        node_weights_: array (n_inner, n_features), the effective filters in the original
            units; node i goes right with probability
            ``sigmoid(node_weights_[i] . x + node_biases_[i])`` for a raw row x.
        node_biases_: array (n_inner,), in the original units.
        node_weights_standardized_, node_biases_standardized_: the same on standardised
            columns, ``beta * w_i`` and ``beta * b_i`` (what the network holds; compare
            the sizes of these weights, not of the raw ones).
        leaf_distributions_: array (n_leaves, n_classes), ``softmax(phi_l)``.
        inverse_temperature_: the (fixed or learned) beta.
        node_reach_: array (n_inner,), the share of training rows whose leaf (as
            ``prediction`` assigns it) lies below each inner node.
        node_mean_path_probability_: array (n_inner,), the mean over training rows of the
            probability of reaching each node.
        leaf_counts_: array (n_leaves,), training rows assigned to each leaf.
        leaf_mean_path_probability_: array (n_leaves,), the mean over training rows of
            each leaf's path probability.
        node_class_counts_, leaf_class_counts_: arrays (n_inner, n_classes) and
            (n_leaves, n_classes): the reference labels (teacher's argmax, or labels) of
            the training rows below each node and in each leaf.
        selection_: dict, how the weights were chosen: ``init``,
            ``init_validation_score`` and ``init_validation_fidelity`` (the start: the
            CART with ``init="cart"``), ``tao_validation_fidelity`` (the TAO tree),
            ``tao_training_disagreement`` (at the start and after each TAO pass),
            ``tao_validation_fidelity_by_size`` ({k or "dense": fidelity} of every TAO
            tree "auto" tried), ``trained_validation_fidelity`` (after fine-tuning),
            ``max_features_per_node`` (k, None for dense) and where it came from
            (``max_features_per_node_from``), ``chosen_validation_score`` /
            ``chosen_validation_fidelity`` and ``chosen`` ("cart", "tao", "init" or
            "trained"); None scores without a validation split.
        classes_, n_features_in_, feature_names_in_, x_mean_, x_scale_, module_, history_,
        n_iter_, best_epoch_: as for every student.

    Examples:
        >>> tree = SoftDecisionTreeClassifier(depth=3, random_state=0).fit(X, y)
        >>> tree.to_rules(X)  # one IF ... THEN rule per leaf, with coverage
    """

    def __init__(
        self,
        *,
        depth: int = 4,
        init: str = "cart",
        max_features_per_node: int | str | None = SOFT_TREE_MAX_FEATURES_PER_NODE,
        inverse_temperature: float = 1.0,
        learn_inverse_temperature: bool = False,
        penalty_strength: float = 1e-2,
        penalty_decay: float = 0.0,
        loss: str = "paper",
        prediction: str = "hard_path",
        max_epochs: int | str = MAX_EPOCHS,
        batch_size: int | str = BATCH_SIZE,
        learning_rate: float = 0.01,
        weight_decay: float = 0.0,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int | str = N_ITER_NO_CHANGE,
        tol: float = 1e-4,
        random_state: Any = None,
        verbose: bool = False,
        device: str = "cpu",
        n_jobs: int | None = None,
    ) -> None:
        self.depth = depth
        self.init = init
        self.max_features_per_node = max_features_per_node
        self.inverse_temperature = inverse_temperature
        self.learn_inverse_temperature = learn_inverse_temperature
        self.penalty_strength = penalty_strength
        self.penalty_decay = penalty_decay
        self.loss = loss
        self.prediction = prediction
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.n_jobs = n_jobs

    # ------------------------------------------------------------------ shared-loop hooks
    def _check_params(self) -> None:
        fitting.check_params(self, MAX_DEPTH, INITS, LOSSES, PREDICTIONS)

    def _build_module(self, n_features: int, n_classes: int) -> torch.nn.Module:
        return _SoftTreeModule(
            n_features,
            n_classes,
            int(self.depth),
            float(self.inverse_temperature),
            bool(self.learn_inverse_temperature),
            float(self.penalty_decay),
        )

    def _batch_loss(
        self, module: torch.nn.Module, X: torch.Tensor, targets: Targets, training: bool
    ) -> torch.Tensor:
        log_leaf, log_reach, log_right = module(X)
        loss = _tree_loss(module, log_leaf, targets, self.loss)
        if training and self.penalty_strength > 0:
            loss = loss + self._smoothed_penalty(module, log_reach, log_right)
        return loss

    def _smoothed_penalty(
        self, module: Any, log_reach: torch.Tensor, log_right: torch.Tensor
    ) -> torch.Tensor:
        """The balancing penalty at the running-average right shares; updates them
        (:func:`~._soft_tree_module.smoothed_penalty`)."""
        return smoothed_penalty(module, log_reach, log_right, float(self.penalty_strength))

    def _after_step(self, module: torch.nn.Module, optimizer: torch.optim.Adam) -> None:
        """In the sparse fine-tuning, hold the pruned weights at 0."""
        mask = self.__dict__.get("_support_mask")
        if mask is not None:
            with torch.no_grad():
                module.inner.weight.mul_(mask)  # type: ignore[union-attr, operator]

    def _eval_logits(self, module: torch.nn.Module, X: torch.Tensor) -> torch.Tensor:
        return _prediction_log_proba(module, X, self.prediction)

    def _validation_score(
        self, module: torch.nn.Module, X_valid: torch.Tensor, targets_valid: Targets
    ) -> float:
        """Share of held-out rows where ``prediction`` disagrees with the reference class
        (the teacher's argmax, else the label), plus the loss as a tie-breaker:
        ``score = d + 0.5 * L / (1 + L) / n_valid``, which never outweighs one row of
        disagreement d. Lower is better (see :func:`~._soft_tree_fit.validation_score`).
        """
        return fitting.validation_score(self, module, X_valid, targets_valid)[0]

    def _split(
        self, n_samples: int, targets: Targets, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The validation split of this fit, drawn once (by :meth:`_run_epochs`) so that
        the initialisation and the loop use the same rows."""
        fixed = self.__dict__.get("_fixed_split")
        if fixed is not None:
            return fixed
        return super()._split(n_samples, targets, rng)

    def _run_epochs(
        self,
        module: torch.nn.Module,
        X: np.ndarray,
        targets: Targets,
        seed: int,
        max_epochs: int,
        device: torch.device,
    ) -> tuple[list[dict[str, float]], int]:
        """Initialise (on the training part of the split only), fine-tune with the shared
        loop, then keep the initial weights when they score better on the held-out rows
        (:func:`~._soft_tree_fit.initialise_and_train`)."""
        return fitting.initialise_and_train(
            self, module, X, targets, seed, max_epochs, device, super()._run_epochs
        )

    def _train(
        self,
        X: np.ndarray,
        classes: np.ndarray,
        targets: Targets,
        *,
        max_epochs: int,
        reset: bool,
    ) -> SoftDecisionTreeClassifier:
        self._fresh_fit = reset
        try:
            super()._train(X, classes, targets, max_epochs=max_epochs, reset=reset)
        finally:
            self._fresh_fit = False
        selection = self.__dict__.pop("_selection", None)
        if selection is not None:
            self.selection_ = selection
        fitting.record_statistics(self, X, targets)
        return self

    def _reuse_search(self, candidate: TorchClassifier) -> None:
        """With "auto", try the search's k first (:func:`~._soft_tree_fit.reuse_search`)."""
        fitting.reuse_search(self, candidate)

    def _expected_failed_checks(self) -> dict[str, str]:
        """scikit-learn checks this estimator is known to fail, with the reason (none)."""
        return {}

    # ------------------------------------------------------------------ fitted attributes
    @property
    def n_leaves_(self) -> int:
        check_fitted(self, "module_")
        return int(2**self.module_.depth)

    @property
    def node_weights_standardized_(self) -> np.ndarray:
        check_fitted(self, "module_")
        beta = self.module_.log_inverse_temperature.exp()
        return (self.module_.inner.weight * beta).detach().double().cpu().numpy()

    @property
    def node_biases_standardized_(self) -> np.ndarray:
        check_fitted(self, "module_")
        beta = self.module_.log_inverse_temperature.exp()
        return (self.module_.inner.bias * beta).detach().double().cpu().numpy()

    @property
    def node_weights_(self) -> np.ndarray:
        return rules.raw_weights(self)[0]

    @property
    def node_biases_(self) -> np.ndarray:
        return rules.raw_weights(self)[1]

    @property
    def leaf_distributions_(self) -> np.ndarray:
        check_fitted(self, "module_")
        return self.module_.leaf_log_proba().detach().double().exp().cpu().numpy()

    @property
    def inverse_temperature_(self) -> float:
        check_fitted(self, "module_")
        return float(self.module_.log_inverse_temperature.detach().exp())

    # ------------------------------------------------------------------ report views
    def complexity(self, X: Any = None) -> dict[str, Any]:
        """How big and how readable the fitted tree is.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or None
            Rows on which to measure how hard the tree's decisions are.

        Returns
        -------
        dict
            ``parameters`` (trainable parameters), ``depth`` (d), ``leaves`` (2^d),
            ``max_features_per_node`` (most non-zero weights of one split),
            ``nonzero_weights`` (over all splits) and, when X is given,
            ``mean_max_path_probability`` (see :meth:`mean_max_path_probability`: 1 for
            a hard tree).
        """
        nonzero = np.count_nonzero(self.node_weights_standardized_, axis=1)
        out: dict[str, Any] = {
            "parameters": int(self.n_parameters_),
            "depth": int(self.depth),
            "leaves": int(2**self.depth),
            "max_features_per_node": int(nonzero.max(initial=0)),
            "nonzero_weights": int(nonzero.sum()),
        }
        if X is not None:
            out["mean_max_path_probability"] = float(self.mean_max_path_probability(X))
        return out

    readable_view = views.readable_view

    # ------------------------------------------------------------------ reading the tree
    def path_probabilities(self, X: Any) -> np.ndarray:
        """P_l(x) for every row and leaf, float64 array (n_samples, n_leaves); rows sum to 1."""
        log_leaf, _ = self._log_paths(X)
        return np.exp(log_leaf)

    def apply(self, X: Any) -> np.ndarray:
        """The leaf that ``prediction`` assigns to each row, int64 array (n_samples,).

        For "hard_path" the leaf of the rule (:meth:`to_rules`) the row satisfies; for
        "max_path" and "mixture" the leaf with the highest path probability.
        """
        check_fitted(self, "module_")
        return self._apply_checked(check_X(self, X, reset=False))

    def _apply_checked(self, X: np.ndarray) -> np.ndarray:
        """:meth:`apply` for checked raw rows."""
        mode = self.prediction
        parts = self._run_module(
            self._standardise(X),
            lambda m, x: _assigned_leaf(m, x, mode).cpu().numpy().astype(np.int64),
        )
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def mean_max_path_probability(self, X: Any) -> float:
        """Mean over rows of the largest path probability: 1 for a tree whose every row
        follows a single path (a hard tree), 1 / n_leaves at the softest."""
        log_leaf, _ = self._log_paths(X)
        return float(np.exp(log_leaf.max(axis=1)).mean())

    def prediction_agreement(self, X: Any) -> float:
        """Share of rows where "max_path" and "mixture" prediction give the same class."""
        check_fitted(self, "module_")
        X_arr = self._standardise(check_X(self, X, reset=False))
        max_path = self._mode_log_proba(X_arr, "max_path").argmax(axis=1)
        mixture = self._mode_log_proba(X_arr, "mixture").argmax(axis=1)
        return float(np.mean(max_path == mixture)) if X_arr.shape[0] else float("nan")

    explain = views.explain
    node_table = views.node_table
    leaf_table = views.leaf_table
    to_text = views.to_text
    to_rules = rules.to_rules
    node_filters_as_images = views.node_filters_as_images

    # ------------------------------------------------------------------ internals
    def _feature_names(self) -> list[str]:
        """Feature names, ``feature_names_in_`` or ``x0``, ``x1``, ...

        Returns
        -------
        list of str
            One name per feature.
        """
        return views.feature_names(self)

    def _chunk_rows(self) -> int:
        n_classes = len(self.classes_)
        return max(1, _CHUNK_ELEMENTS // (2**self.module_.depth * max(n_classes, 1)))

    def _run_module(self, X: np.ndarray, fn: Any) -> list[Any]:
        """Apply ``fn(module, X_chunk)`` in eval mode and without gradients, by chunks.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
            Standardised rows.
        fn : callable
            ``fn(module, chunk)``.

        Returns
        -------
        list
            One result per chunk of :meth:`_chunk_rows` rows.
        """
        return batched_inference(self.module_, X, fn, self._chunk_rows())

    def _log_paths(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """log P_l(x) (n, n_leaves) and log P_i(x) (n, n_inner), float64, for raw rows."""
        check_fitted(self, "module_")
        return self._log_paths_checked(check_X(self, X, reset=False))

    def _log_paths_checked(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_log_paths` for checked raw rows (standardised here)."""
        n_leaves, n_inner = 2**self.module_.depth, 2**self.module_.depth - 1
        parts = self._run_module(
            self._standardise(X),
            lambda m, x: tuple(t.double().cpu().numpy() for t in m(x)[:2]),
        )
        if not parts:
            return np.zeros((0, n_leaves)), np.zeros((0, n_inner))
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
        )

    def _mode_log_proba(self, X: np.ndarray, mode: str) -> np.ndarray:
        """Log class probabilities of prediction ``mode`` for standardised rows."""
        parts = self._run_module(
            X, lambda m, x: _prediction_log_proba(m, x, mode).double().cpu().numpy()
        )
        return np.concatenate(parts) if parts else np.zeros((0, len(self.classes_)))
