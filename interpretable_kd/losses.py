"""Distillation losses, in pure torch.

The knowledge-distillation objective of Hinton, Vinyals and Dean (2015), "Distilling the
Knowledge in a Neural Network" (arXiv:1503.02531):

    L = w * CE(y, softmax(z_S)) + (1 - w) * T^2 * KL(softmax(z_T / T) || softmax(z_S / T))

with student logits z_S, teacher logits z_T, temperature T and hard-label weight w. The T^2
factor keeps the size of the soft-target gradients roughly constant as T changes (the
gradient of the KL term scales as 1/T^2). Everything is computed from log-softmax, so no
exponential of a large logit is ever formed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["kd_loss", "kd_loss_from_log_targets", "soften"]


def soften(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Temperature-softened probabilities ``softmax(logits / T)``.

    Args:
        logits: tensor of shape (n_samples, n_classes).
        temperature: T > 0. T = 1 is the plain softmax; T > 1 flattens the distribution
            (T -> inf gives the uniform distribution); T < 1 sharpens it. The argmax never
            changes.

    Returns:
        Tensor of shape (n_samples, n_classes) whose rows sum to 1.
    """
    return torch.softmax(logits / temperature, dim=1)


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

    Args:
        student_logits: z_S, shape (n_samples, n_classes).
        teacher_logits: z_T, shape (n_samples, n_classes); treated as constants.
        y: class indices of shape (n_samples,), or None. Rows labelled -1 have no label and
            contribute to the soft term only.
        temperature: T > 0.
        hard_label_weight: w in [0, 1].

    With ``y=None`` or ``w = 0`` the loss is label-free distillation, ``T^2 * KL``.
    """
    teacher_log_proba = F.log_softmax(teacher_logits.detach() / temperature, dim=1)
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

    Training loops soften the teacher once, not once per epoch. ``teacher_log_proba`` may
    be None (plain cross-entropy on ``y``, i.e. w = 1).
    """
    if teacher_log_proba is None:
        if y is None:
            raise ValueError("kd_loss needs teacher targets, labels y, or both.")
        return hard_label_loss(student_logits, y)
    soft = temperature**2 * soft_target_loss(student_logits, teacher_log_proba, temperature)
    if y is None or hard_label_weight == 0.0:
        return soft
    hard = hard_label_loss(student_logits, y)
    return hard_label_weight * hard + (1.0 - hard_label_weight) * soft


def soft_target_loss(
    student_logits: torch.Tensor, teacher_log_proba: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Batch mean of KL(p_T || softmax(z_S / T)) = sum_k p_T,k (log p_T,k - log p_S,k).

    Terms with p_T,k = 0 contribute 0 (the limit of p log p).
    """
    student_log_proba = F.log_softmax(student_logits / temperature, dim=1)
    teacher_proba = teacher_log_proba.exp()
    log_ratio = torch.where(
        teacher_proba > 0, teacher_log_proba - student_log_proba, torch.zeros_like(teacher_proba)
    )
    return (teacher_proba * log_ratio).sum(dim=1).mean()


def hard_label_loss(student_logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy on the rows with a label (``y >= 0``); 0 when no row has one."""
    labelled = y >= 0
    n_labelled = int(labelled.sum())
    if n_labelled == 0:
        return student_logits.sum() * 0.0  # keeps the graph, adds nothing
    total = F.cross_entropy(student_logits, y, ignore_index=-1, reduction="sum")
    return total / n_labelled
