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

``loss="paper"`` (the paper's loss: each leaf is scored on its own, weighted by the path
probability of reaching it)::

    H = - sum_l P_l(x) log Q_l,y
    S =   sum_l P_l(x) KL(p_T || softmax(phi_l / T))

``loss="mixture"`` (the cross-entropy of the tree's averaged prediction)::

    H = - log sum_l P_l(x) Q_l,y
    S =   KL(p_T || sum_l P_l(x) softmax(phi_l / T))

The leaf distributions are softened at the same temperature as the teacher
(``softmax(phi_l / T)``), exactly as the student logits are in Hinton et al. (2015); the
branch probabilities are decisions, not class scores, and are never softened. As in the
shared objective (:mod:`interpretable_kd.losses`), H is averaged over labelled rows,
there is no H without labels, and there is only H when there is no teacher.

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

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .._validation import check_choice, check_fitted, check_number, check_X
from ..exceptions import InputError, InputTypeError, ParameterError
from ..losses import soft_target_loss
from ._base import Targets, TorchClassifier

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
# Shares closer than this to 0 or 1 are clipped before the balancing penalty's logarithm.
_SHARE_EPS = 1e-6


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True)
class FeatureContribution:
    """One feature's part in a node's decision for one row.

    Attributes:
        name: the feature's name (``feature_names_in_``, else ``x0``, ``x1``, ...).
        weight: the node's effective weight on the feature, ``beta * w_ij``.
        value: the row's value of the feature.
        contribution: ``weight * value``, its share of the node's logit (positive pushes
            right).
    """

    name: str
    weight: float
    value: float
    contribution: float


@dataclass(frozen=True)
class DecisionStep:
    """One decision on a row's most probable path through the tree.

    Attributes:
        node: the inner node (heap numbering, root 0).
        depth: its depth (root 0).
        direction: "left" or "right", the branch the path takes.
        probability: the probability of that branch at this node, in [0, 1].
        path_probability: the probability of reaching the branch's child, the product of
            the ``probability`` of this step and of every step before it.
        logit: the node's ``beta * (w . x + b)``; the row goes right with probability
            ``sigmoid(logit)``.
        features: the top features by absolute contribution, largest first.
        child: where the branch leads, "node N" or "leaf N".
    """

    node: int
    depth: int
    direction: str
    probability: float
    path_probability: float
    logit: float
    features: tuple[FeatureContribution, ...]
    child: str

    def __str__(self) -> str:
        because = ", ".join(f"{f.name} ({f.contribution:+.3g})" for f in self.features)
        return (
            f"node {self.node} (depth {self.depth}): {self.direction} with probability "
            f"{self.probability:.3f} -> {self.child}; logit {self.logit:+.3g}"
            + (f", mostly from {because}" if because else "")
        )


# ---------------------------------------------------------------------------- module
class _SoftTreeModule(torch.nn.Module):
    """The tree's parameters and its level-by-level forward pass."""

    log_inverse_temperature: torch.Tensor
    right_share_average: torch.Tensor
    penalty_steps: torch.Tensor
    penalty_decays: torch.Tensor
    penalty_depth_weights: torch.Tensor

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        depth: int,
        inverse_temperature: float,
        learn_inverse_temperature: bool,
        penalty_decay: float,
    ) -> None:
        super().__init__()
        self.depth = depth
        n_inner = 2**depth - 1
        self.inner = torch.nn.Linear(n_features, n_inner)
        self.leaf_logits = torch.nn.Parameter(0.1 * torch.randn(2**depth, n_classes))
        log_beta = torch.tensor(math.log(inverse_temperature), dtype=torch.float32)
        if learn_inverse_temperature:
            self.log_inverse_temperature = torch.nn.Parameter(log_beta)
        else:
            self.register_buffer("log_inverse_temperature", log_beta)
        node_depth = torch.floor(torch.log2(torch.arange(1, n_inner + 1, dtype=torch.float64)))
        self.register_buffer("penalty_depth_weights", (2.0**-node_depth).float())
        self.register_buffer(
            "penalty_decays", (1.0 - (1.0 - penalty_decay) * 2.0**-node_depth).float()
        )
        self.register_buffer("right_share_average", torch.full((n_inner,), 0.5))
        self.register_buffer("penalty_steps", torch.zeros((), dtype=torch.int64))

    def node_logits(self, X: torch.Tensor) -> torch.Tensor:
        """``beta * (W x + b)`` for every inner node, shape (n_samples, n_inner)."""
        return self.inner(X) * self.log_inverse_temperature.exp()

    def forward(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log path probabilities.

        Returns:
            log_leaf: log P_l(x), shape (n_samples, n_leaves).
            log_reach: log P_i(x), the log-probability of reaching inner node i, shape
                (n_samples, n_inner).
            log_right: log p_i(x), shape (n_samples, n_inner).
        """
        z = self.node_logits(X)
        n = z.shape[0]
        log_right = F.logsigmoid(z)
        # log sigmoid(-z) = log sigmoid(z) - z: one logsigmoid instead of two
        branch = torch.stack((log_right - z, log_right), dim=2)  # (n, n_inner, [left, right])
        # one split (not a slice per level): its backward is a single concatenation
        levels = torch.split(branch, [2**level for level in range(self.depth)], dim=1)
        log_path = z.new_zeros(n, 1)
        reach = []
        for level_branch in levels:
            reach.append(log_path)
            # child 2j + direction of node j on this level
            log_path = (log_path.unsqueeze(2) + level_branch).reshape(n, -1)
        return log_path, torch.cat(reach, dim=1), log_right

    def leaf_log_proba(self, temperature: float = 1.0) -> torch.Tensor:
        """``log softmax(phi_l / T)``, shape (n_leaves, n_classes)."""
        return F.log_softmax(self.leaf_logits / temperature, dim=1)


def balancing_penalty(
    right_share: torch.Tensor, depth_weights: torch.Tensor, strength: float
) -> torch.Tensor:
    """``- strength * sum_i depth_weights_i * 1/2 * [log a_i + log(1 - a_i)]``.

    Args:
        right_share: a_i, shape (n_inner,), in (0, 1) (clipped to [1e-6, 1 - 1e-6]).
        depth_weights: 2^(-depth_i), shape (n_inner,).
        strength: lambda >= 0.

    The derivative in a_i is ``- strength * depth_weights_i * 1/2 * (1/a_i - 1/(1 - a_i))``:
    zero at a_i = 1/2.
    """
    share = right_share.clamp(_SHARE_EPS, 1.0 - _SHARE_EPS)
    return -strength * (depth_weights * 0.5 * (share.log() + (-share).log1p())).sum()


def right_share(log_reach: torch.Tensor, log_right: torch.Tensor) -> torch.Tensor:
    """a_i = sum_x P_i(x) p_i(x) / sum_x P_i(x), computed in log space; shape (n_inner,)."""
    log_share = torch.logsumexp(log_reach + log_right, dim=0) - torch.logsumexp(log_reach, dim=0)
    return log_share.exp()


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

    def explain(self, x: Any, top_k: int = 3) -> list[DecisionStep]:
        """The decisions on one row's most probable path, root first.

        The path ends at the leaf with the highest path probability, whose distribution
        is the "max_path" prediction (see :meth:`leaf_table` for the leaf).

        Args:
            x: one row: array of shape (n_features,) or (1, n_features), a one-row
                DataFrame or a Series.
            top_k: how many features to name at each step (by absolute contribution
                ``weight * value``), >= 0.

        Returns:
            One :class:`DecisionStep` per depth level.
        """
        check_fitted(self, "module_")
        owner = type(self).__name__
        top_k = check_number(top_k, "top_k", owner, integer=True, low=0)
        if isinstance(x, pd.Series):
            x = x.to_frame().T
        if not isinstance(x, pd.DataFrame):
            x = np.asarray(x)
            if x.ndim == 1:
                x = x.reshape(1, -1)
        row = check_X(self, x, reset=False)
        if row.shape[0] != 1:
            raise InputError(
                f"{owner}.explain needs one row; got {row.shape[0]} rows. Pass X[i] for the "
                "i-th row, or loop over the rows."
            )
        log_leaf, _ = self._log_paths_checked(row)
        leaf = int(np.argmax(log_leaf[0]))
        weights, biases = self.node_weights_, self.node_biases_
        names = self._feature_names()
        depth = int(self.module_.depth)
        steps = []
        path_probability = 1.0
        node = 0
        for level in range(depth):
            go_right = (leaf >> (depth - 1 - level)) & 1
            contributions = weights[node] * row[0].astype(np.float64)
            logit = float(contributions.sum() + biases[node])
            p_right = 1.0 / (1.0 + math.exp(-logit)) if logit > -700 else 0.0
            probability = p_right if go_right else 1.0 - p_right
            path_probability *= probability
            child = 2 * node + 1 + go_right
            order = np.argsort(-np.abs(contributions), kind="stable")[:top_k]
            steps.append(
                DecisionStep(
                    node=node,
                    depth=level,
                    direction="right" if go_right else "left",
                    probability=probability,
                    path_probability=path_probability,
                    logit=logit,
                    features=tuple(
                        FeatureContribution(
                            names[j],
                            float(weights[node, j]),
                            float(row[0, j]),
                            float(contributions[j]),
                        )
                        for j in order
                    ),
                    child=f"leaf {leaf}" if level == depth - 1 else f"node {child}",
                )
            )
            node = child
        return steps

    def node_table(self, top_k: int = 3) -> pd.DataFrame:
        """One row per inner node.

        Columns: node, depth, bias (``beta * b_i``), top_features (the ``top_k`` largest
        effective weights by absolute value, as "name (+weight)"), weight_norm (L2 norm
        of ``beta * w_i``), reach (share of training rows whose most probable path passes
        through the node), mean_path_probability (mean probability of reaching it over
        the training rows).
        """
        check_fitted(self, "module_")
        top_k = check_number(top_k, "top_k", type(self).__name__, integer=True, low=0)
        weights, biases = self.node_weights_, self.node_biases_
        names = self._feature_names()
        rows = []
        for node in range(weights.shape[0]):
            order = np.argsort(-np.abs(weights[node]), kind="stable")[:top_k]
            rows.append(
                {
                    "node": node,
                    "depth": math.floor(math.log2(node + 1)),
                    "bias": float(biases[node]),
                    "top_features": ", ".join(
                        f"{names[j]} ({weights[node, j]:+.3g})" for j in order
                    ),
                    "weight_norm": float(np.linalg.norm(weights[node])),
                    "reach": float(self.node_reach_[node]),
                    "mean_path_probability": float(self.node_mean_path_probability_[node]),
                }
            )
        return pd.DataFrame(rows)

    def leaf_table(self) -> pd.DataFrame:
        """One row per leaf.

        Columns: leaf, predicted_class (the leaf's most probable class), confidence (its
        probability), n_rows (training rows whose most probable leaf it is), share (the
        same as a share), mean_path_probability, then one column ``p(<class>)`` per class.
        """
        check_fitted(self, "module_")
        dist = self.leaf_distributions_
        n_rows = int(self.leaf_counts_.sum())
        table = pd.DataFrame(
            {
                "leaf": np.arange(dist.shape[0]),
                "predicted_class": self.classes_[dist.argmax(axis=1)],
                "confidence": dist.max(axis=1),
                "n_rows": self.leaf_counts_,
                "share": self.leaf_counts_ / max(n_rows, 1),
                "mean_path_probability": self.leaf_mean_path_probability_,
            }
        )
        for k, label in enumerate(self.classes_):
            table[f"p({label})"] = dist[:, k]
        return table

    def to_text(self, top_k: int = 3, max_depth: int | None = None) -> str:
        """The tree as indented text, one line per node and leaf.

        Each inner node shows its ``top_k`` largest effective weights and its bias (the
        row goes right, "yes", with probability ``sigmoid(sum weight * x + bias)``) and
        the share of training rows whose most probable path passes through it; each leaf
        shows its most probable class, that class's probability and its training rows.

        Args:
            top_k: features shown per node.
            max_depth: show the nodes down to this depth in full and elide the subtrees
                below them as "..." (None: the whole tree).
        """
        check_fitted(self, "module_")
        owner = type(self).__name__
        top_k = check_number(top_k, "top_k", owner, integer=True, low=0)
        max_depth = check_number(
            max_depth, "max_depth", owner, integer=True, low=0, allow_none=True
        )
        depth = int(self.module_.depth)
        weights, biases = self.node_weights_, self.node_biases_
        names = self._feature_names()
        dist = self.leaf_distributions_
        lines: list[str] = []

        def describe(node: int, level: int, prefix: str) -> None:
            pad = "  " * level
            if level == depth:
                leaf = node - (2**depth - 1)
                k = int(dist[leaf].argmax())
                lines.append(
                    f"{pad}{prefix}leaf {leaf}: class {_label(self.classes_[k])!r} "
                    f"(p={dist[leaf, k]:.2f}; {int(self.leaf_counts_[leaf])} training rows)"
                )
                return
            if max_depth is not None and level > max_depth:
                lines.append(f"{pad}{prefix}node {node}: ...")
                return
            order = np.argsort(-np.abs(weights[node]), kind="stable")[:top_k]
            terms = " ".join(f"{weights[node, j]:+.3g}*{names[j]}" for j in order)
            more = " + ..." if top_k < weights.shape[1] else ""
            lines.append(
                f"{pad}{prefix}node {node}: {terms}{more} {biases[node]:+.3g} > 0 "
                f"(reached by {100 * self.node_reach_[node]:.0f}% of training rows)"
            )
            describe(2 * node + 1, level + 1, "no  -> ")
            describe(2 * node + 2, level + 1, "yes -> ")

        describe(0, 0, "")
        return "\n".join(lines)

    def node_filters_as_images(self, shape: tuple[int, ...] = (8, 8)) -> np.ndarray:
        """The effective filters ``beta * w_i`` reshaped as images, for image inputs.

        Args:
            shape: the image shape, whose product must equal n_features (8 x 8 for
                scikit-learn's digits).

        Returns:
            float64 array of shape (n_inner, *shape), in heap order.
        """
        check_fitted(self, "module_")
        owner = type(self).__name__
        try:
            shape = tuple(int(s) for s in shape)
        except (TypeError, ValueError) as exc:
            raise InputTypeError(
                f"The 'shape' argument of {owner}.node_filters_as_images must be a tuple "
                f"of ints such as (8, 8). Got {shape!r} instead."
            ) from exc
        if math.prod(shape) != self.n_features_in_:
            raise InputError(
                f"The 'shape' argument of {owner}.node_filters_as_images must have "
                f"{self.n_features_in_} pixels in all (one per feature). Got {shape!r}, "
                f"{math.prod(shape)} pixels."
            )
        return self.node_weights_.reshape(-1, *shape)

    # ------------------------------------------------------------------ internals
    def _feature_names(self) -> list[str]:
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            return [str(name) for name in names]
        return [f"x{j}" for j in range(self.n_features_in_)]

    def _chunk_rows(self) -> int:
        n_classes = len(self.classes_)
        return max(1, _CHUNK_ELEMENTS // (2**self.module_.depth * max(n_classes, 1)))

    def _run_module(self, X: np.ndarray, fn: Any) -> list[Any]:
        """Apply ``fn(module, X_chunk)`` in eval mode and without gradients, by chunks."""
        module = self.module_
        device = next(module.parameters()).device
        was_training = module.training
        module.eval()
        step = self._chunk_rows()
        try:
            with torch.no_grad():
                return [
                    fn(module, torch.from_numpy(X[i : i + step]).to(device))
                    for i in range(0, X.shape[0], step)
                ]
        finally:
            module.train(was_training)

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
    return torch.logsumexp(log_leaf.unsqueeze(2) + leaf_log_q.unsqueeze(0), dim=1)


def _tree_loss(module: Any, log_leaf: torch.Tensor, targets: Targets, loss: str) -> torch.Tensor:
    """``w * H + (1 - w) * T^2 * S`` of the module docstring, averaged over the batch.

    For the paper's loss, ``sum_l P_l(x) log Q_l`` is one (n, n_leaves) x (n_leaves,
    n_classes) product, so no (n, n_leaves) tensor other than P itself is formed.
    """
    temperature = targets.temperature
    y = targets.y
    path = log_leaf.exp() if loss == "paper" else None
    soft = None
    if targets.teacher_log_proba is not None:
        leaf_log_qt = module.leaf_log_proba(temperature)
        teacher_log_p = targets.teacher_log_proba
        if path is not None:
            teacher_p = teacher_log_p.exp()
            neg_entropy = (
                teacher_p * torch.where(teacher_p > 0, teacher_log_p, torch.zeros_like(teacher_p))
            ).sum(dim=1)
            weighted_log_q = path @ leaf_log_qt  # (n, n_classes): sum_l P_l log Q_l,k
            soft = (neg_entropy - (teacher_p * weighted_log_q).sum(dim=1)).mean()
        else:
            mix = torch.logsumexp(log_leaf.unsqueeze(2) + leaf_log_qt.unsqueeze(0), dim=1)
            soft = soft_target_loss(mix, teacher_log_p, 1.0)
        soft = temperature**2 * soft
        if y is None or targets.hard_label_weight == 0.0:
            return soft
    if y is None:
        raise ValueError("the soft tree's loss needs teacher targets, labels y, or both.")
    hard = _hard_loss(module, log_leaf, path, y)
    if soft is None:
        return hard
    w = targets.hard_label_weight
    return w * hard + (1.0 - w) * soft


def _hard_loss(
    module: Any, log_leaf: torch.Tensor, path: torch.Tensor | None, y: torch.Tensor
) -> torch.Tensor:
    """H of the module docstring (the paper's when ``path``, P_l(x), is given, else the
    mixture's), averaged over the labelled rows (y >= 0)."""
    leaf_log_q = module.leaf_log_proba()  # (n_leaves, n_classes)
    labelled = y >= 0
    index = y.clamp_min(0).unsqueeze(1)
    if path is not None:
        per_row = -(path @ leaf_log_q).gather(1, index).squeeze(1)
    else:
        log_q_y = leaf_log_q.T[index.squeeze(1)]  # (n, n_leaves): log Q_l,y
        per_row = -torch.logsumexp(log_leaf + log_q_y, dim=1)
    n_labelled = int(labelled.sum())
    if n_labelled == 0:
        return per_row.sum() * 0.0  # keeps the graph, adds nothing
    return (per_row * labelled).sum() / n_labelled


def _label(value: Any) -> Any:
    """A class label as a plain Python value, so ``repr`` shows 'yes', not np.str_('yes')."""
    return value.item() if isinstance(value, np.generic) else value
