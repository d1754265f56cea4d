"""The soft decision tree's network: parameters, the level-by-level forward pass in log
space, and the balancing penalty (Frosst and Hinton, 2017).

The model is described in :mod:`interpretable_kd.students.soft_tree`.

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

import torch
import torch.nn.functional as F

from ..losses import log_soften

__all__ = ["_SoftTreeModule", "balancing_penalty", "right_share", "smoothed_penalty"]

# Shares closer than this to 0 or 1 are clipped before the balancing penalty's logarithm.
_SHARE_EPS = 1e-6


class _SoftTreeModule(torch.nn.Module):
    """The tree's parameters and its level-by-level forward pass.

    Parameters
    ----------
    n_features, n_classes : int
        Input width and number of classes.
    depth : int
        d: 2^d - 1 inner nodes (one ``nn.Linear``), 2^d leaves (``leaf_logits`` phi).
    inverse_temperature : float
        beta, stored as ``log beta``.
    learn_inverse_temperature : bool
        ``log beta`` is a parameter (True) or a buffer.
    penalty_decay : float
        The root's decay of the running right shares; node i at depth k decays by
        ``1 - (1 - penalty_decay) * 2^(-k)``.
    """

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
        """``beta * (W x + b)`` for every inner node.

        Parameters
        ----------
        X : Tensor of shape (n_samples, n_features)
            Rows.

        Returns
        -------
        Tensor of shape (n_samples, n_inner)
            The node logits z.
        """
        return self.inner(X) * self.log_inverse_temperature.exp()

    def forward(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log path probabilities.

        Parameters
        ----------
        X : Tensor of shape (n_samples, n_features)
            Rows.

        Returns
        -------
        log_leaf : Tensor of shape (n_samples, n_leaves)
            log P_l(x).
        log_reach : Tensor of shape (n_samples, n_inner)
            log P_i(x), the log-probability of reaching inner node i.
        log_right : Tensor of shape (n_samples, n_inner)
            log p_i(x) = logsigmoid(z_i).
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
        """``log softmax(phi_l / T)``, shape (n_leaves, n_classes).

        Parameters
        ----------
        temperature : float
            T > 0.

        Returns
        -------
        Tensor of shape (n_leaves, n_classes)
            ``log_soften(phi, T)``.
        """
        return log_soften(self.leaf_logits, temperature)


def balancing_penalty(
    right_share: torch.Tensor, depth_weights: torch.Tensor, strength: float
) -> torch.Tensor:
    """``- strength * sum_i depth_weights_i * 1/2 * [log a_i + log(1 - a_i)]``.

    The derivative in a_i is ``- strength * depth_weights_i * 1/2 * (1/a_i - 1/(1 - a_i))``:
    zero at a_i = 1/2.

    Parameters
    ----------
    right_share : Tensor of shape (n_inner,)
        a_i in (0, 1) (clipped to [1e-6, 1 - 1e-6]).
    depth_weights : Tensor of shape (n_inner,)
        2^(-depth_i).
    strength : float
        lambda >= 0.

    Returns
    -------
    Tensor
        The scalar penalty C.
    """
    share = right_share.clamp(_SHARE_EPS, 1.0 - _SHARE_EPS)
    return -strength * (depth_weights * 0.5 * (share.log() + (-share).log1p())).sum()


def right_share(log_reach: torch.Tensor, log_right: torch.Tensor) -> torch.Tensor:
    """a_i = sum_x P_i(x) p_i(x) / sum_x P_i(x), computed in log space.

    Parameters
    ----------
    log_reach : Tensor of shape (n_samples, n_inner)
        log P_i(x).
    log_right : Tensor of shape (n_samples, n_inner)
        log p_i(x).

    Returns
    -------
    Tensor of shape (n_inner,)
        The path-weighted share of the batch that each node sends right.
    """
    log_share = torch.logsumexp(log_reach + log_right, dim=0) - torch.logsumexp(log_reach, dim=0)
    return log_share.exp()


def smoothed_penalty(
    module: _SoftTreeModule, log_reach: torch.Tensor, log_right: torch.Tensor, strength: float
) -> torch.Tensor:
    """The balancing penalty C at the running-average right shares (module docstring);
    updates the module's running averages in place.

    Parameters
    ----------
    module : _SoftTreeModule
        The network (its ``right_share_average``, ``penalty_steps``, ``penalty_decays``
        and ``penalty_depth_weights``).
    log_reach, log_right : Tensor of shape (n_samples, n_inner)
        log P_i(x) and log p_i(x) of the batch.
    strength : float
        lambda >= 0.

    Returns
    -------
    Tensor
        The scalar penalty; its gradient flows through the batch's shares.
    """
    batch_share = right_share(log_reach, log_right)
    with torch.no_grad():
        module.penalty_steps += 1
        new_weight = torch.clamp(1.0 - module.penalty_decays, min=1.0 / float(module.penalty_steps))
        smoothed = new_weight * batch_share + (1.0 - new_weight) * module.right_share_average
        module.right_share_average.copy_(smoothed)
    share = batch_share + (smoothed - batch_share).detach()
    return balancing_penalty(share, module.penalty_depth_weights, strength)
