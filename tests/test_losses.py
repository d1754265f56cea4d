"""The distillation loss against a direct NumPy computation of its formula."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from interpretable_kd.losses import kd_loss, soften

from .strategies import logits_pairs


def _numpy_kd(zs: np.ndarray, zt: np.ndarray, y: np.ndarray | None, T: float, w: float) -> float:
    """L = w CE(y, softmax(zs)) + (1 - w) T^2 KL(softmax(zt/T) || softmax(zs/T)), in float64."""

    def log_softmax(z: np.ndarray) -> np.ndarray:
        z = z - z.max(axis=1, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=1, keepdims=True))

    log_pt, log_ps = log_softmax(zt / T), log_softmax(zs / T)
    kl = (np.exp(log_pt) * (log_pt - log_ps)).sum(axis=1).mean()
    if y is None:
        return float(T**2 * kl)
    ce = -log_softmax(zs)[np.arange(len(y)), y].mean()
    return float(w * ce + (1 - w) * T**2 * kl)


@settings(max_examples=60, deadline=None)
@given(
    pair=logits_pairs(),
    temperature=st.floats(0.1, 20.0),
    weight=st.floats(0.0, 1.0),
    labelled=st.booleans(),
)
def test_kd_loss_matches_numpy_formula(
    pair: tuple[np.ndarray, np.ndarray], temperature: float, weight: float, labelled: bool
) -> None:
    zs, zt = pair
    y = np.arange(zs.shape[0]) % zs.shape[1] if labelled else None
    got = kd_loss(
        torch.tensor(zs, dtype=torch.float64),
        torch.tensor(zt, dtype=torch.float64),
        None if y is None else torch.tensor(y),
        temperature=temperature,
        hard_label_weight=weight,
    )
    expected = _numpy_kd(zs, zt, y, temperature, weight)
    assert float(got) == pytest.approx(expected, rel=1e-6, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(pair=logits_pairs(), temperature=st.floats(0.05, 100.0))
def test_kl_term_is_non_negative_and_zero_only_for_equal_distributions(
    pair: tuple[np.ndarray, np.ndarray], temperature: float
) -> None:
    zs, zt = (torch.tensor(z, dtype=torch.float64) for z in pair)
    loss = float(kd_loss(zs, zt, temperature=temperature, hard_label_weight=0.0))
    assert loss >= -1e-9
    same = float(kd_loss(zt, zt, temperature=temperature, hard_label_weight=0.0))
    assert same == pytest.approx(0.0, abs=1e-9)
    # Shifting all logits of a row by a constant leaves the distribution unchanged.
    shifted = float(kd_loss(zt + 3.0, zt, temperature=temperature, hard_label_weight=0.0))
    assert shifted == pytest.approx(0.0, abs=1e-8)
    p_s, p_t = soften(zs, temperature), soften(zt, temperature)
    if not torch.allclose(p_s, p_t, atol=1e-6):
        assert loss > 0


def test_t_squared_keeps_soft_gradient_size_constant_across_temperatures() -> None:
    """Without the T^2 factor the soft-target gradient shrinks like 1/T^2 (Hinton et al.)."""
    gen = torch.Generator().manual_seed(0)
    zt = torch.randn(256, 5, generator=gen, dtype=torch.float64) * 3
    zs0 = torch.randn(256, 5, generator=gen, dtype=torch.float64) * 3
    norms = []
    for temperature in (2.0, 4.0, 8.0, 16.0):
        zs = zs0.clone().requires_grad_(True)
        kd_loss(zs, zt, temperature=temperature, hard_label_weight=0.0).backward()
        assert zs.grad is not None
        norms.append(float(zs.grad.norm()))
    assert max(norms) / min(norms) < 1.6  # the raw KL gradient varies 64-fold over this range


@settings(max_examples=60, deadline=None)
@given(pair=logits_pairs(), temperature=st.floats(0.05, 100.0))
def test_soften_keeps_argmax_and_sums_to_one(
    pair: tuple[np.ndarray, np.ndarray], temperature: float
) -> None:
    z = torch.tensor(pair[0], dtype=torch.float64)
    p = soften(z, temperature)
    assert torch.allclose(p.sum(dim=1), torch.ones(z.shape[0], dtype=torch.float64))
    top2 = z.topk(2, dim=1).values
    clear_winner = (top2[:, 0] - top2[:, 1]) > 1e-6  # ties are not an argmax question
    kept = p.argmax(dim=1) == z.argmax(dim=1)
    assert bool(kept[clear_winner].all())


def test_soften_approaches_uniform_as_temperature_grows() -> None:
    z = torch.tensor([[5.0, 0.0, -5.0]])
    spread = [float(soften(z, t).max() - soften(z, t).min()) for t in (1, 10, 100, 10_000)]
    assert spread == sorted(spread, reverse=True)
    assert spread[-1] < 1e-3


def test_extreme_logits_and_temperatures_give_finite_loss_and_gradients() -> None:
    zt = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]])
    for temperature in (0.05, 1.0, 100.0):
        zs = torch.tensor([[-1e4, 1e4, 0.0], [0.0, 0.0, 0.0]], requires_grad=True)
        loss = kd_loss(zs, zt, torch.tensor([0, 1]), temperature=temperature, hard_label_weight=0.5)
        loss.backward()
        assert torch.isfinite(loss)
        assert zs.grad is not None and torch.isfinite(zs.grad).all()


def test_unlabelled_rows_only_get_the_soft_term() -> None:
    zs, zt = torch.randn(4, 3), torch.randn(4, 3)
    none = kd_loss(zs, zt, None, temperature=2.0, hard_label_weight=0.0)
    all_unlabelled = kd_loss(zs, zt, torch.full((4,), -1), temperature=2.0, hard_label_weight=0.0)
    assert float(none) == pytest.approx(float(all_unlabelled))
