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

C is the balancing penalty of the paper:

    C = - penalty_strength * sum_i 2^(-depth_i) * 1/2 * [log a_i + log(1 - a_i)]

where ``a_i = sum_x P_i(x) p_i(x) / sum_x P_i(x)`` is the path-weighted share of the batch
that node i sends right (P_i(x): the probability of reaching node i). C is smallest, with
zero gradient, at a_i = 1/2: it pushes each node to use both of its subtrees. Deeper
nodes see fewer rows per batch, so the paper smooths a_i with an exponentially decaying
running average whose time window grows with depth. Here the window at depth k is
``2^k / (1 - penalty_decay)`` batches: the decay factor is

    gamma_k = 1 - (1 - penalty_decay) * 2^(-k)

so a node at depth k averages over about as many rows as the root does over
``1 / (1 - penalty_decay)`` batches (with ``penalty_decay=0``, the root uses its batch
alone). Until a node has seen a full window, the average is the plain mean of the batches
so far (weight ``max(1 - gamma_k, 1 / t)`` on batch t), so the starting value does not
linger. The penalty's value, and the slope that multiplies the batch's gradient, are
taken at the smoothed share; the gradient flows through the current batch's share with
weight 1 (not 1 - gamma_k), so ``penalty_decay`` changes how noisy the penalty is, not how
strong it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .._training import Targets, TorchClassifier, batched_inference
from .._validation import check_choice, check_fitted, check_number, check_X
from ..exceptions import ParameterError
from ..losses import mixture_log_proba, soft_tree_kd_loss
from . import _soft_tree_views as views
from ._soft_tree_module import _SoftTreeModule, balancing_penalty, right_share
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
PREDICTIONS = ("max_path", "mixture")
# Rows x leaves x classes kept in memory at once when predicting with a large tree.
_CHUNK_ELEMENTS = 1 << 24


# ---------------------------------------------------------------------------- estimator
class SoftDecisionTreeClassifier(TorchClassifier):
    """Soft decision tree (Frosst and Hinton, 2017) trained by the shared torch loop.

    Read the module docstring for the model, the losses and the balancing penalty. Train
    on labels with :meth:`fit`, or on a teacher through
    :class:`~interpretable_kd.DistilledClassifier`. Scale the features first (for example
    with ``StandardScaler``): every node is a linear filter of the raw inputs.

    Args:
        depth: d, 1 <= d <= 16: 2^d - 1 inner nodes and 2^d leaves.
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
        prediction: "max_path" (the distribution of the single leaf with the highest path
            probability: the paper's explainable decision) or "mixture"
            (``sum_l P_l(x) Q_l``). ``predict_proba`` and ``predict`` follow it.
        max_epochs, batch_size, learning_rate, weight_decay, early_stopping,
        validation_fraction, n_iter_no_change, tol, random_state, verbose, device:
            the shared training loop's settings (see ``TorchClassifier``).

    Attributes:
        n_leaves_: 2^depth.
        node_weights_: array (n_inner, n_features), the effective filters ``beta * w_i``.
        node_biases_: array (n_inner,), ``beta * b_i``; node i goes right with probability
            ``sigmoid(node_weights_[i] . x + node_biases_[i])``.
        leaf_distributions_: array (n_leaves, n_classes), ``softmax(phi_l)``.
        inverse_temperature_: the (fixed or learned) beta.
        node_reach_: array (n_inner,), the share of training rows whose most probable path
            passes through each inner node (recorded at the end of fit).
        node_mean_path_probability_: array (n_inner,), the mean over training rows of the
            probability of reaching each node.
        leaf_counts_: array (n_leaves,), how many training rows have each leaf as their
            most probable leaf.
        leaf_mean_path_probability_: array (n_leaves,), the mean over training rows of
            each leaf's path probability.
        classes_, n_features_in_, feature_names_in_, module_, history_, n_iter_,
        best_epoch_: as for every student.

    Examples:
        >>> tree = SoftDecisionTreeClassifier(depth=3, random_state=0).fit(X, y)
        >>> tree.explain(X[0])  # the decisions behind the first row's prediction
    """

    def __init__(
        self,
        *,
        depth: int = 4,
        inverse_temperature: float = 1.0,
        learn_inverse_temperature: bool = False,
        penalty_strength: float = 1e-2,
        penalty_decay: float = 0.0,
        loss: str = "paper",
        prediction: str = "max_path",
        max_epochs: int = 200,
        batch_size: int = 128,
        learning_rate: float = 0.01,
        weight_decay: float = 0.0,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        random_state: Any = None,
        verbose: bool = False,
        device: str = "cpu",
    ) -> None:
        self.depth = depth
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

    # ------------------------------------------------------------------ shared-loop hooks
    def _check_params(self) -> None:
        owner = type(self).__name__
        depth = check_number(self.depth, "depth", owner, integer=True)
        if not 1 <= depth <= MAX_DEPTH:
            raise ParameterError(
                f"The 'depth' parameter of {owner} must be an int in the range "
                f"[1, {MAX_DEPTH}]. Got {self.depth!r} instead. A tree of depth d has 2^d "
                f"leaves (depth {MAX_DEPTH}: {2**MAX_DEPTH:,}); a tree that someone reads "
                "rarely needs more than 8."
            )
        check_number(
            self.inverse_temperature, "inverse_temperature", owner, low=0.0, closed="neither"
        )
        check_choice(
            self.learn_inverse_temperature, "learn_inverse_temperature", owner, [True, False]
        )
        check_number(self.penalty_strength, "penalty_strength", owner, low=0.0)
        check_number(self.penalty_decay, "penalty_decay", owner, low=0.0, high=1.0, closed="left")
        check_choice(self.loss, "loss", owner, list(LOSSES))
        check_choice(self.prediction, "prediction", owner, list(PREDICTIONS))

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
        """The balancing penalty at the running-average right shares (module docstring);
        updates the running averages."""
        batch_share = right_share(log_reach, log_right)
        with torch.no_grad():
            module.penalty_steps += 1
            new_weight = torch.clamp(
                1.0 - module.penalty_decays, min=1.0 / float(module.penalty_steps)
            )
            smoothed = new_weight * batch_share + (1.0 - new_weight) * module.right_share_average
            module.right_share_average.copy_(smoothed)
        share = batch_share + (smoothed - batch_share).detach()
        return balancing_penalty(share, module.penalty_depth_weights, float(self.penalty_strength))

    def _eval_logits(self, module: torch.nn.Module, X: torch.Tensor) -> torch.Tensor:
        return _prediction_log_proba(module, X, self.prediction)

    def _train(
        self,
        X: np.ndarray,
        classes: np.ndarray,
        targets: Targets,
        *,
        max_epochs: int,
        reset: bool,
    ) -> SoftDecisionTreeClassifier:
        super()._train(X, classes, targets, max_epochs=max_epochs, reset=reset)
        self._record_reach(X)
        return self

    def _expected_failed_checks(self) -> dict[str, str]:
        """scikit-learn checks this estimator is known to fail, with the reason (none)."""
        return {}

    # ------------------------------------------------------------------ fitted attributes
    @property
    def n_leaves_(self) -> int:
        check_fitted(self, "module_")
        return int(2**self.module_.depth)

    @property
    def node_weights_(self) -> np.ndarray:
        check_fitted(self, "module_")
        beta = self.module_.log_inverse_temperature.exp()
        return (self.module_.inner.weight * beta).detach().double().cpu().numpy()

    @property
    def node_biases_(self) -> np.ndarray:
        check_fitted(self, "module_")
        beta = self.module_.log_inverse_temperature.exp()
        return (self.module_.inner.bias * beta).detach().double().cpu().numpy()

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
            ``parameters`` (trainable parameters), ``depth`` (d), ``leaves`` (2^d) and,
            when X is given, ``mean_max_path_probability`` (see
            :meth:`mean_max_path_probability`: 1 for a hard tree).
        """
        out: dict[str, Any] = {
            "parameters": int(self.n_parameters_),
            "depth": int(self.depth),
            "leaves": int(2**self.depth),
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

    def mean_max_path_probability(self, X: Any) -> float:
        """Mean over rows of the largest path probability: 1 for a tree whose every row
        follows a single path (a hard tree), 1 / n_leaves at the softest."""
        log_leaf, _ = self._log_paths(X)
        return float(np.exp(log_leaf.max(axis=1)).mean())

    def prediction_agreement(self, X: Any) -> float:
        """Share of rows where "max_path" and "mixture" prediction give the same class."""
        check_fitted(self, "module_")
        X_arr = check_X(self, X, reset=False)
        max_path = self._mode_log_proba(X_arr, "max_path").argmax(axis=1)
        mixture = self._mode_log_proba(X_arr, "mixture").argmax(axis=1)
        return float(np.mean(max_path == mixture)) if X_arr.shape[0] else float("nan")

    explain = views.explain
    node_table = views.node_table
    leaf_table = views.leaf_table
    to_text = views.to_text
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
            Checked rows.
        fn : callable
            ``fn(module, chunk)``.

        Returns
        -------
        list
            One result per chunk of :meth:`_chunk_rows` rows.
        """
        return batched_inference(self.module_, X, fn, self._chunk_rows())

    def _log_paths(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """log P_l(x) (n, n_leaves) and log P_i(x) (n, n_inner), float64."""
        check_fitted(self, "module_")
        return self._log_paths_checked(check_X(self, X, reset=False))

    def _log_paths_checked(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n_leaves, n_inner = 2**self.module_.depth, 2**self.module_.depth - 1
        parts = self._run_module(
            X,
            lambda m, x: tuple(t.double().cpu().numpy() for t in m(x)[:2]),
        )
        if not parts:
            return np.zeros((0, n_leaves)), np.zeros((0, n_inner))
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
        )

    def _mode_log_proba(self, X: np.ndarray, mode: str) -> np.ndarray:
        parts = self._run_module(
            X, lambda m, x: _prediction_log_proba(m, x, mode).double().cpu().numpy()
        )
        return np.concatenate(parts) if parts else np.zeros((0, len(self.classes_)))

    def _record_reach(self, X: np.ndarray) -> None:
        """Store how the training rows spread over the tree (for the tables), reducing
        chunk by chunk so that no (n_samples, n_leaves) array is kept."""

        def summarise(module: Any, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            log_leaf, log_reach, _ = module(x)
            return (
                torch.bincount(log_leaf.argmax(dim=1), minlength=log_leaf.shape[1]),
                log_leaf.double().exp().sum(dim=0),
                log_reach.double().exp().sum(dim=0),
            )

        depth = int(self.module_.depth)
        n_leaves = 2**depth
        counts = np.zeros(n_leaves, dtype=np.int64)
        leaf_mass, node_mass = np.zeros(n_leaves), np.zeros(n_leaves - 1)
        for chunk_counts, chunk_leaf, chunk_node in self._run_module(X, summarise):
            counts += chunk_counts.cpu().numpy()
            leaf_mass += chunk_leaf.cpu().numpy()
            node_mass += chunk_node.cpu().numpy()
        n_rows = max(X.shape[0], 1)
        reach = np.empty(n_leaves - 1)
        for level in range(depth):
            # the leaves under the nodes of one level form contiguous, equal blocks
            blocks = counts.reshape(2**level, -1).sum(axis=1)
            reach[2**level - 1 : 2 ** (level + 1) - 1] = blocks / n_rows
        self.leaf_counts_ = counts
        self.leaf_mean_path_probability_ = leaf_mass / n_rows
        self.node_reach_ = reach
        self.node_mean_path_probability_ = node_mass / n_rows


# ---------------------------------------------------------------------------- functions
def _prediction_log_proba(module: Any, X: torch.Tensor, mode: str) -> torch.Tensor:
    """Log class probabilities of the "max_path" or "mixture" prediction, (n, n_classes)."""
    log_leaf, _, _ = module(X)
    leaf_log_q = module.leaf_log_proba()
    if mode == "max_path":
        return leaf_log_q[log_leaf.argmax(dim=1)]
    return mixture_log_proba(log_leaf, leaf_log_q)


def _tree_loss(module: Any, log_leaf: torch.Tensor, targets: Targets, loss: str) -> torch.Tensor:
    """``w * H + (1 - w) * T^2 * S`` of :func:`~interpretable_kd.losses.soft_tree_kd_loss`
    for this tree's leaves, averaged over the batch.

    Parameters
    ----------
    module : _SoftTreeModule
        The tree's network (its ``leaf_logits`` phi).
    log_leaf : Tensor of shape (n_samples, n_leaves)
        log P_l(x).
    targets : Targets
        Labels and/or the softened teacher, T and w.
    loss : {"paper", "mixture"}
        Which pair of terms.

    Returns
    -------
    Tensor
        The scalar loss.
    """
    return soft_tree_kd_loss(
        log_leaf,
        module.leaf_logits,
        targets.teacher_log_proba,
        targets.y,
        temperature=targets.temperature,
        hard_label_weight=targets.hard_label_weight,
        loss=loss,
    )
