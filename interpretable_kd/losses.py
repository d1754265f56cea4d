"""The distillation objective, in pure torch: softening and every knowledge-distillation
term, for every student. No other module softens a distribution or writes a KD term.

The objective of Hinton, Vinyals and Dean (2015), "Distilling the Knowledge in a Neural
Network" (arXiv:1503.02531):

    L = w * H + (1 - w) * T^2 * S

with temperature T, hard-label weight w, the hard term H (cross-entropy on true labels)
and the soft term S (a KL divergence from the teacher softened at T). For a student with
logits z_S and a teacher with logits z_T:

    H = CE(y, softmax(z_S)),    S = KL(softmax(z_T / T) || softmax(z_S / T))

The T^2 factor keeps the size of the soft-target gradients roughly constant as T changes
(the gradient of the KL term scales as 1/T^2). H is averaged over the labelled rows
(y >= 0); without labels (or with w = 0) L = T^2 * S; without a teacher L = H.

The soft decision tree (Frosst and Hinton, 2017) has a class distribution per leaf,
``Q_l = softmax(phi_l)``, and path probabilities ``P_l(x)``; its terms are here too
(:func:`soft_tree_kd_loss`): the paper's path-weighted terms and the mixture's.

Everything is computed from log-softmax, so no exponential of a large logit is ever
formed. Temperatures and weights are validated where the user gives them
(``DistilledClassifier.fit``, ``fit_distill``), not here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = [
    "hard_label_loss",
    "kd_loss",
    "kd_loss_from_log_targets",
    "kd_objective",
    "log_soften",
    "mixture_log_proba",
    "path_weighted_hard_loss",
    "path_weighted_soft_loss",
    "soft_target_loss",
    "soft_tree_kd_loss",
    "soften",
]

Term = Callable[[], torch.Tensor]


# ---------------------------------------------------------------------------- softening
def log_soften(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Temperature-softened log-probabilities ``log softmax(logits / T)``, row by row.

    Parameters
    ----------
    logits : Tensor of shape (n_rows, n_classes)
        Scores z (a teacher's or a student's logits, or a soft tree's leaf logits phi).
    temperature : float
        T > 0.

    Returns
    -------
    Tensor of shape (n_rows, n_classes)
        ``z / T - logsumexp(z / T)``.
    """
    return F.log_softmax(logits / temperature, dim=1)


def soften(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Temperature-softened probabilities ``softmax(logits / T)``.

    Parameters
    ----------
    logits : Tensor of shape (n_samples, n_classes)
        Scores z.
    temperature : float
        T > 0. T = 1 is the plain softmax; T > 1 flattens the distribution (T -> inf
        gives the uniform distribution); T < 1 sharpens it. The argmax never changes.

    Returns
    -------
    Tensor of shape (n_samples, n_classes)
        ``exp(log_soften(z, T))``; rows sum to 1.
    """
    return log_soften(logits, temperature).exp()


# ---------------------------------------------------------------------------- combination
def kd_objective(
    soft: Term | None,
    hard: Term | None,
    *,
    temperature: float,
    hard_label_weight: float,
) -> torch.Tensor:
    """``L = w * H + (1 - w) * T^2 * S``, computing only the terms that count.

    Parameters
    ----------
    soft : callable returning a scalar Tensor, or None
        S, the soft term, batch mean; None when there is no teacher.
    hard : callable returning a scalar Tensor, or None
        H, the hard term, mean over labelled rows; None when there are no labels.
    temperature : float
        T.
    hard_label_weight : float
        w in [0, 1].

    Returns
    -------
    Tensor
        Scalar loss: ``H`` without a teacher, ``T^2 * S`` without labels or with w = 0,
        else the weighted sum. S is computed before H.

    Raises
    ------
    ValueError
        If there is neither a teacher nor labels.
    """
    if soft is None:
        if hard is None:
            raise ValueError("the distillation loss needs teacher targets, labels y, or both.")
        return hard()
    soft_value = temperature**2 * soft()
    if hard is None or hard_label_weight == 0.0:
        return soft_value
    return hard_label_weight * hard() + (1.0 - hard_label_weight) * soft_value


# ---------------------------------------------------------------------------- logits students
def kd_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    y: torch.Tensor | None = None,
    *,
    temperature: float,
    hard_label_weight: float,
) -> torch.Tensor:
    """Hinton et al. (2015) distillation loss, averaged over the batch.

        L = w * CE(y, softmax(z_S)) + (1 - w) * T^2 * KL(softmax(z_T / T) || softmax(z_S / T))

    Parameters
    ----------
    student_logits : Tensor of shape (n_samples, n_classes)
        z_S.
    teacher_logits : Tensor of shape (n_samples, n_classes)
        z_T; treated as constants.
    y : Tensor of shape (n_samples,) or None
        Class indices. Rows labelled -1 have no label and contribute to the soft term
        only.
    temperature : float
        T > 0.
    hard_label_weight : float
        w in [0, 1].

    Returns
    -------
    Tensor
        The scalar loss. With ``y=None`` or ``w = 0`` it is label-free distillation,
        ``T^2 * KL``.
    """
    teacher_log_proba = log_soften(teacher_logits.detach(), temperature)
    return kd_loss_from_log_targets(
        student_logits,
        teacher_log_proba,
        y,
        temperature=temperature,
        hard_label_weight=hard_label_weight,
    )


def kd_loss_from_log_targets(
    student_logits: torch.Tensor,
    teacher_log_proba: torch.Tensor | None,
    y: torch.Tensor | None = None,
    *,
    temperature: float,
    hard_label_weight: float,
) -> torch.Tensor:
    """:func:`kd_loss` with the teacher already softened: ``log softmax(z_T / T)``.

    Training loops soften the teacher once, not once per epoch.

    Parameters
    ----------
    student_logits : Tensor of shape (n_samples, n_classes)
        z_S.
    teacher_log_proba : Tensor of shape (n_samples, n_classes) or None
        ``log_soften(z_T, T)``; None for plain cross-entropy on ``y`` (w = 1).
    y : Tensor of shape (n_samples,) or None
        Class indices, -1 for rows without a label.
    temperature : float
        T > 0.
    hard_label_weight : float
        w in [0, 1].

    Returns
    -------
    Tensor
        The scalar loss of :func:`kd_objective`.
    """
    return kd_objective(
        None
        if teacher_log_proba is None
        else lambda: soft_target_loss(student_logits, teacher_log_proba, temperature),
        None if y is None else lambda: hard_label_loss(student_logits, y),
        temperature=temperature,
        hard_label_weight=hard_label_weight,
    )


def soft_target_loss(
    student_logits: torch.Tensor, teacher_log_proba: torch.Tensor, temperature: float
) -> torch.Tensor:
    """S: batch mean of ``KL(p_T || softmax(z_S / T)) = sum_k p_T,k (log p_T,k - log p_S,k)``.

    Parameters
    ----------
    student_logits : Tensor of shape (n_samples, n_classes)
        z_S (or any log-probabilities, with T = 1).
    teacher_log_proba : Tensor of shape (n_samples, n_classes)
        log p_T, the softened teacher.
    temperature : float
        T > 0, applied to the student.

    Returns
    -------
    Tensor
        Scalar. Terms with p_T,k = 0 contribute 0 (the limit of p log p).
    """
    student_log_proba = log_soften(student_logits, temperature)
    teacher_proba = teacher_log_proba.exp()
    log_ratio = torch.where(
        teacher_proba > 0, teacher_log_proba - student_log_proba, torch.zeros_like(teacher_proba)
    )
    return (teacher_proba * log_ratio).sum(dim=1).mean()


def hard_label_loss(student_logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """H: cross-entropy ``-log softmax(z_S)_y`` averaged over the labelled rows (y >= 0).

    Parameters
    ----------
    student_logits : Tensor of shape (n_samples, n_classes)
        z_S.
    y : Tensor of shape (n_samples,)
        Class indices, -1 for rows without a label.

    Returns
    -------
    Tensor
        Scalar; 0 (keeping the graph) when no row has a label.
    """
    labelled = y >= 0
    n_labelled = int(labelled.sum())
    if n_labelled == 0:
        return student_logits.sum() * 0.0  # keeps the graph, adds nothing
    total = F.cross_entropy(student_logits, y, ignore_index=-1, reduction="sum")
    return total / n_labelled


# ---------------------------------------------------------------------------- soft tree
def soft_tree_kd_loss(
    log_leaf: torch.Tensor,
    leaf_logits: torch.Tensor,
    teacher_log_proba: torch.Tensor | None,
    y: torch.Tensor | None,
    *,
    temperature: float,
    hard_label_weight: float,
    loss: str,
) -> torch.Tensor:
    """The soft decision tree's ``L = w * H + (1 - w) * T^2 * S``, averaged over the batch.

    With path probabilities P_l(x), leaf distributions ``Q_l = softmax(phi_l)`` and
    ``Q_l^T = softmax(phi_l / T)``:

    ``loss="paper"`` (each leaf scored on its own, weighted by its path probability)::

        H = - sum_l P_l(x) log Q_l,y
        S =   sum_l P_l(x) KL(p_T || Q_l^T)

    ``loss="mixture"`` (the cross-entropy of the tree's averaged prediction)::

        H = - log sum_l P_l(x) Q_l,y
        S =   KL(p_T || sum_l P_l(x) Q_l^T)

    Parameters
    ----------
    log_leaf : Tensor of shape (n_samples, n_leaves)
        log P_l(x).
    leaf_logits : Tensor of shape (n_leaves, n_classes)
        phi.
    teacher_log_proba : Tensor of shape (n_samples, n_classes) or None
        log p_T, the teacher softened at T; None without a teacher.
    y : Tensor of shape (n_samples,) or None
        Class indices, -1 for rows without a label; None without labels.
    temperature : float
        T > 0.
    hard_label_weight : float
        w in [0, 1].
    loss : {"paper", "mixture"}
        Which pair of terms.

    Returns
    -------
    Tensor
        The scalar loss of :func:`kd_objective`.
    """
    path = log_leaf.exp() if loss == "paper" else None

    def soft() -> torch.Tensor:
        assert teacher_log_proba is not None
        leaf_log_qt = log_soften(leaf_logits, temperature)
        if path is not None:
            return path_weighted_soft_loss(path, leaf_log_qt, teacher_log_proba)
        return soft_target_loss(mixture_log_proba(log_leaf, leaf_log_qt), teacher_log_proba, 1.0)

    def hard() -> torch.Tensor:
        assert y is not None
        leaf_log_q = log_soften(leaf_logits, 1.0)
        if path is not None:
            return path_weighted_hard_loss(path, leaf_log_q, y)
        return _mixture_hard_loss(log_leaf, leaf_log_q, y)

    return kd_objective(
        None if teacher_log_proba is None else soft,
        None if y is None else hard,
        temperature=temperature,
        hard_label_weight=hard_label_weight,
    )


def mixture_log_proba(log_leaf: torch.Tensor, leaf_log_proba: torch.Tensor) -> torch.Tensor:
    """``log sum_l P_l(x) Q_l``: the log class distribution of the tree's mixture.

    Parameters
    ----------
    log_leaf : Tensor of shape (n_samples, n_leaves)
        log P_l(x).
    leaf_log_proba : Tensor of shape (n_leaves, n_classes)
        log Q_l (at any temperature).

    Returns
    -------
    Tensor of shape (n_samples, n_classes)
        ``logsumexp_l (log P_l(x) + log Q_l,k)``.
    """
    return torch.logsumexp(log_leaf.unsqueeze(2) + leaf_log_proba.unsqueeze(0), dim=1)


def path_weighted_soft_loss(
    path: torch.Tensor, leaf_log_proba: torch.Tensor, teacher_log_proba: torch.Tensor
) -> torch.Tensor:
    """The paper's S: batch mean of ``sum_l P_l(x) KL(p_T || Q_l^T)``.

    Since the P_l(x) of a row sum to 1, this is ``sum_k p_T,k log p_T,k - sum_k p_T,k
    sum_l P_l(x) log Q^T_l,k``; the inner sum is one (n, n_leaves) x (n_leaves,
    n_classes) product, so no (n, n_leaves, n_classes) tensor is formed.

    Parameters
    ----------
    path : Tensor of shape (n_samples, n_leaves)
        P_l(x).
    leaf_log_proba : Tensor of shape (n_leaves, n_classes)
        log Q_l^T.
    teacher_log_proba : Tensor of shape (n_samples, n_classes)
        log p_T.

    Returns
    -------
    Tensor
        Scalar; terms with p_T,k = 0 contribute 0.
    """
    teacher_p = teacher_log_proba.exp()
    neg_entropy = (
        teacher_p * torch.where(teacher_p > 0, teacher_log_proba, torch.zeros_like(teacher_p))
    ).sum(dim=1)
    weighted_log_q = path @ leaf_log_proba  # (n, n_classes): sum_l P_l log Q_l,k
    return (neg_entropy - (teacher_p * weighted_log_q).sum(dim=1)).mean()


def path_weighted_hard_loss(
    path: torch.Tensor, leaf_log_proba: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """The paper's H: ``- sum_l P_l(x) log Q_l,y`` averaged over the labelled rows.

    Parameters
    ----------
    path : Tensor of shape (n_samples, n_leaves)
        P_l(x).
    leaf_log_proba : Tensor of shape (n_leaves, n_classes)
        log Q_l.
    y : Tensor of shape (n_samples,)
        Class indices, -1 for rows without a label.

    Returns
    -------
    Tensor
        Scalar; 0 (keeping the graph) when no row has a label.
    """
    index = y.clamp_min(0).unsqueeze(1)
    per_row = -(path @ leaf_log_proba).gather(1, index).squeeze(1)
    return _labelled_mean(per_row, y)


def _mixture_hard_loss(
    log_leaf: torch.Tensor, leaf_log_proba: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """The mixture's H: ``- log sum_l P_l(x) Q_l,y`` averaged over the labelled rows.

    Parameters
    ----------
    log_leaf : Tensor of shape (n_samples, n_leaves)
        log P_l(x).
    leaf_log_proba : Tensor of shape (n_leaves, n_classes)
        log Q_l.
    y : Tensor of shape (n_samples,)
        Class indices, -1 for rows without a label.

    Returns
    -------
    Tensor
        Scalar; 0 (keeping the graph) when no row has a label.
    """
    index = y.clamp_min(0).unsqueeze(1)
    log_q_y = leaf_log_proba.T[index.squeeze(1)]  # (n, n_leaves): log Q_l,y
    per_row = -torch.logsumexp(log_leaf + log_q_y, dim=1)
    return _labelled_mean(per_row, y)


def _labelled_mean(per_row: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean of ``per_row`` over the rows with ``y >= 0``.

    Parameters
    ----------
    per_row : Tensor of shape (n_samples,)
        A loss per row.
    y : Tensor of shape (n_samples,)
        Class indices, -1 for rows without a label.

    Returns
    -------
    Tensor
        Scalar; ``0 * sum(per_row)`` (keeping the graph) when no row has a label.
    """
    labelled = y >= 0
    n_labelled = int(labelled.sum())
    if n_labelled == 0:
        return per_row.sum() * 0.0  # keeps the graph, adds nothing
    return (per_row * labelled).sum() / n_labelled
