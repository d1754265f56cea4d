"""The logistic student solved exactly (L-BFGS / FISTA) and read in the user's units."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

import interpretable_kd as ikd
from interpretable_kd import SoftLogisticRegression
from interpretable_kd.exceptions import ParameterError
from interpretable_kd.losses import kd_loss_from_log_targets, log_soften
from interpretable_kd.students import logistic as logistic_module
from interpretable_kd.students._convex import minimize_fista, minimize_lbfgs


def _scaled(n_classes: int, n_rows: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose columns live on very different scales (1e5 with an offset, 1e-3, 1)."""
    X, y = make_classification(
        n_samples=n_rows,
        n_features=6,
        n_informative=4,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        class_sep=0.8,
        flip_y=0.05,
        random_state=seed,
    )
    X[:, 0] = X[:, 0] * 1e5 + 3e5
    X[:, 1] = X[:, 1] * 1e-3
    return X.astype(np.float32), y


def _standardised(model: SoftLogisticRegression, X: np.ndarray) -> np.ndarray:
    return (X.astype(np.float64) - model.x_mean_) / model.x_scale_


def _teacher_logits(X: np.ndarray, n_classes: int, seed: int = 1) -> np.ndarray:
    """A non-linear teacher: logits from a fixed random quadratic of the standardised X."""
    rng = np.random.default_rng(seed)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    return np.tanh(Z @ rng.normal(size=(X.shape[1], n_classes))) * 3 + 0.3 * (Z**2) @ rng.normal(
        size=(X.shape[1], n_classes)
    )


def _objective_gradient(
    model: SoftLogisticRegression, Z: np.ndarray, log_targets: torch.Tensor, temperature: float
) -> np.ndarray:
    """max |grad| of T^2 KL + penalty at the fitted weights, recomputed in float64."""
    weight = model.module_.weight.detach().double().clone().requires_grad_(True)
    bias = model.module_.bias.detach().double().clone().requires_grad_(True)
    logits = torch.as_tensor(Z) @ weight.T + bias
    loss = kd_loss_from_log_targets(
        logits, log_targets, None, temperature=temperature, hard_label_weight=0.0
    )
    loss = loss + model.penalty_strength_ * weight.pow(2).sum()
    loss.backward()
    assert weight.grad is not None and bias.grad is not None
    return np.concatenate([weight.grad.numpy().ravel(), bias.grad.numpy()])


# ------------------------------------------------------------------ original units
@pytest.mark.parametrize("n_classes", [2, 3])
def test_coef_is_in_original_units_and_reproduces_predict_proba(n_classes) -> None:
    X, y = _scaled(n_classes)
    model = SoftLogisticRegression(random_state=0).fit(X, y)
    np.testing.assert_allclose(model.coef_, model.coef_standardized_ / model.x_scale_)
    np.testing.assert_allclose(
        model.intercept_,
        model.intercept_standardized_ - model.coef_standardized_ @ (model.x_mean_ / model.x_scale_),
    )
    # The column scaled by 1e5 gets a coefficient ~1e5 times smaller than its standardised one.
    assert model.x_scale_[0] > 1e4 and model.x_scale_[1] < 1e-2
    logits = X.astype(np.float64) @ model.coef_.T + model.intercept_
    proba = model.predict_proba(X)
    if n_classes == 2:
        np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-logits[:, 0])), atol=1e-5)
    else:
        expected = np.exp(logits - logits.max(axis=1, keepdims=True))
        np.testing.assert_allclose(proba, expected / expected.sum(axis=1, keepdims=True), atol=1e-5)


def test_readable_view_carries_both_unit_systems() -> None:
    X, y = _scaled(2)
    model = SoftLogisticRegression(random_state=0).fit(X, y)
    view = model.readable_view()
    assert view["view"] == "coefficients"
    np.testing.assert_array_equal(view["coef"], model.coef_)
    np.testing.assert_array_equal(view["intercept"], model.intercept_)
    np.testing.assert_array_equal(view["coef_standardized"], model.coef_standardized_)
    np.testing.assert_array_equal(view["intercept_standardized"], model.intercept_standardized_)
    np.testing.assert_array_equal(view["x_scale"], model.x_scale_)
    np.testing.assert_array_equal(view["x_mean"], model.x_mean_)
    assert model.complexity() == {"parameters": 2 * 6 + 2, "nonzero_coefficients": 6}


# ------------------------------------------------------------------ the optimum
@pytest.mark.parametrize("n_classes", [2, 3])
def test_hard_labels_reach_scikit_learns_optimum(n_classes) -> None:
    """Same objective as LogisticRegression on the standardised columns with
    C = 1 / (strength * n) (two classes) or 1 / (2 * strength * n) (K classes)."""
    X, y = _scaled(n_classes)
    strength = 1e-2
    model = SoftLogisticRegression(penalty_strength=strength, tol=1e-8, random_state=0).fit(X, y)
    assert model.solver_ == "lbfgs"
    n = X.shape[0]
    C = 1 / (strength * n) if n_classes == 2 else 1 / (2 * strength * n)
    reference = LogisticRegression(C=C, tol=1e-10, max_iter=10_000).fit(_standardised(model, X), y)
    np.testing.assert_allclose(model.coef_standardized_, reference.coef_, atol=2e-4)
    np.testing.assert_allclose(
        model.predict_proba(X), reference.predict_proba(_standardised(model, X)), atol=1e-4
    )


@pytest.mark.parametrize(("n_classes", "temperature"), [(2, 1.0), (2, 0.25), (3, 2.0)])
def test_soft_targets_reach_a_stationary_point(n_classes, temperature) -> None:
    X, _ = _scaled(n_classes)
    teacher = _teacher_logits(X.astype(np.float64), n_classes)
    model = SoftLogisticRegression(tol=1e-7, random_state=0).fit_distill(
        X, teacher, classes=np.arange(n_classes), temperature=temperature
    )
    assert model.n_iter_ < model.max_iter  # converged, not cut off
    log_targets = log_soften(torch.as_tensor(teacher.astype(np.float32)).double(), temperature)
    grad = _objective_gradient(model, _standardised(model, X), log_targets, temperature)
    assert np.abs(grad).max() < 1e-5
    # The Adam loop on the same objective stops short of it.
    adam = SoftLogisticRegression(solver="adam", max_epochs=20, random_state=0).fit_distill(
        X, teacher, classes=np.arange(n_classes), temperature=temperature
    )
    adam_grad = _objective_gradient(adam, _standardised(adam, X), log_targets, temperature)
    assert np.abs(adam_grad).max() > 10 * np.abs(grad).max()


def test_history_has_one_entry_per_iteration_and_decreases() -> None:
    X, y = _scaled(3)
    model = SoftLogisticRegression(random_state=0).fit(X, y)
    losses = [entry["train_loss"] for entry in model.history_]
    assert model.n_iter_ == len(model.history_) == model.best_epoch_ >= 2
    assert [entry["epoch"] for entry in model.history_] == list(range(1, model.n_iter_ + 1))
    assert all(b <= a for a, b in itertools.pairwise(losses))
    assert model.history_[-1]["grad_max"] <= model.tol < model.history_[0]["grad_max"]
    capped = SoftLogisticRegression(max_iter=2, random_state=0).fit(X, y)
    assert capped.n_iter_ == 2 and capped.history_[-1]["grad_max"] > capped.tol


def test_default_float32_solve_matches_the_float64_one() -> None:
    """At the default tol (1e-4) the solver works in float32 on X itself; a tol below 1e-5
    switches to float64. Both reach the same optimum up to the float32 resolution."""
    X, _ = _scaled(3)
    teacher = _teacher_logits(X.astype(np.float64), 3)
    fast = SoftLogisticRegression().fit_distill(X, teacher, classes=np.arange(3), temperature=0.5)
    precise = SoftLogisticRegression(tol=1e-7).fit_distill(
        X, teacher, classes=np.arange(3), temperature=0.5
    )
    assert fast.history_[-1]["grad_max"] <= fast.tol
    assert precise.history_[-1]["grad_max"] <= precise.tol
    assert precise.n_iter_ > fast.n_iter_
    scale = np.abs(precise.coef_standardized_).max()
    np.testing.assert_allclose(
        fast.coef_standardized_, precise.coef_standardized_, atol=2e-3 * scale
    )
    assert np.mean(fast.predict(X) == precise.predict(X)) >= 0.99


def test_exact_solver_is_deterministic_and_ignores_the_seed() -> None:
    """A convex optimum does not depend on the random start: the exact solvers start from
    zero weights, so every random_state gives the same model."""
    X, y = _scaled(2)
    a = SoftLogisticRegression(random_state=0).fit(X, y)
    b = SoftLogisticRegression(random_state=0).fit(X, y)
    c = SoftLogisticRegression(random_state=7).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.coef_, c.coef_)
    assert a.history_ == c.history_


def test_interrupted_exact_solve_leaves_the_model_unfitted(monkeypatch) -> None:
    X, y = _scaled(2)
    model = SoftLogisticRegression().fit(X, y)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(model, "_batch_loss", interrupt)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    assert not hasattr(model, "module_")
    with pytest.raises(ikd.NotFittedError, match="not fitted yet"):
        model.predict(X)


def test_fine_tune_continues_from_the_distilled_weights() -> None:
    """fine_tune (hard labels, no re-initialisation) runs the exact solver from the
    current weights and reaches the hard-label optimum."""
    X, y = _scaled(2)
    teacher = _teacher_logits(X.astype(np.float64), 2)
    model = SoftLogisticRegression().fit_distill(X, teacher, classes=np.arange(2))
    distilled_iterations = model.n_iter_
    model.fine_tune(X, y, max_epochs=3)
    direct = SoftLogisticRegression().fit(X, y)
    assert len(model.history_) == distilled_iterations + model.n_iter_
    np.testing.assert_allclose(
        model.coef_, direct.coef_, rtol=1e-2, atol=1e-3 * np.abs(direct.coef_).max()
    )


# ------------------------------------------------------------------ L1
def test_l1_gives_exact_zeros_and_sparser_models_as_strength_grows() -> None:
    X, y = _scaled(2)
    rng = np.random.default_rng(0)
    noisy = np.hstack([X, rng.normal(size=(X.shape[0], 8)).astype(np.float32)])
    counts = []
    for strength in (1e-4, 1e-2, 5e-2, 2e-1):
        model = SoftLogisticRegression(penalty="l1", penalty_strength=strength).fit(noisy, y)
        assert model.solver_ == "fista"
        counts.append(int(np.count_nonzero(model.coef_)))
        assert model.complexity()["nonzero_coefficients"] == counts[-1]
    assert counts == sorted(counts, reverse=True)
    assert counts[0] == noisy.shape[1] and counts[-1] <= 3 and counts[1] < counts[0]


def test_l1_solution_satisfies_the_optimality_conditions() -> None:
    """KKT for min f + lambda ||W||_1: |df/dw| <= lambda where w = 0, df/dw = -lambda
    sign(w) elsewhere; df/db = 0."""
    X, y = _scaled(3)
    strength = 2e-2
    model = SoftLogisticRegression(penalty="l1", penalty_strength=strength, tol=1e-7).fit(X, y)
    weight = model.module_.weight.detach().double().clone().requires_grad_(True)
    bias = model.module_.bias.detach().double().clone().requires_grad_(True)
    logits = torch.as_tensor(_standardised(model, X)) @ weight.T + bias
    torch.nn.functional.cross_entropy(logits, torch.as_tensor(y)).backward()
    assert weight.grad is not None and bias.grad is not None
    w, g = weight.detach().numpy(), weight.grad.numpy()
    zero = w == 0
    assert zero.any() and (~zero).any()
    assert np.all(np.abs(g[zero]) <= strength + 1e-5)
    np.testing.assert_allclose(g[~zero], -strength * np.sign(w[~zero]), atol=1e-5)
    np.testing.assert_allclose(bias.grad.numpy(), 0, atol=1e-5)


# ------------------------------------------------------------------ solver choice, errors
def test_auto_falls_back_to_adam_beyond_the_cell_threshold(monkeypatch) -> None:
    X, y = _scaled(2)
    monkeypatch.setattr(logistic_module, "EXACT_SOLVER_MAX_CELLS", X.size - 1)
    model = SoftLogisticRegression(max_epochs=5, random_state=0).fit(X, y)
    assert model.solver_ == "adam" and model.n_iter_ <= 5
    sparse = SoftLogisticRegression(penalty="l1", max_epochs=5, random_state=0).fit(X, y)
    assert sparse.solver_ == "adam"
    monkeypatch.setattr(logistic_module, "EXACT_SOLVER_MAX_CELLS", X.size)
    assert SoftLogisticRegression(random_state=0).fit(X, y).solver_ == "lbfgs"


def test_explicit_solvers_agree_on_a_smooth_objective() -> None:
    X, y = _scaled(2)
    lbfgs = SoftLogisticRegression(solver="lbfgs", tol=1e-7).fit(X, y)
    fista = SoftLogisticRegression(solver="fista", tol=1e-7, max_iter=5000).fit(X, y)
    assert (lbfgs.solver_, fista.solver_) == ("lbfgs", "fista")
    np.testing.assert_allclose(lbfgs.coef_standardized_, fista.coef_standardized_, atol=1e-4)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"solver": "newton"}, r"'solver' parameter of SoftLogisticRegression must be one of "),
        ({"solver": "lbgfs"}, r"Did you mean 'lbfgs'\?"),
        ({"max_iter": 0}, r"'max_iter' parameter of SoftLogisticRegression must be an int"),
        (
            {"solver": "lbfgs", "penalty": "l1"},
            r"solver' parameter of SoftLogisticRegression is 'lbfgs'.*penalty='l1' is not "
            r"smooth\. Use solver='fista'",
        ),
    ],
)
def test_bad_solver_settings_are_rejected(params, match) -> None:
    X, y = _scaled(2)
    with pytest.raises(ParameterError, match=match):
        SoftLogisticRegression(**params).fit(X, y)


# ------------------------------------------------------------------ persistence
def test_save_load_round_trip_keeps_units_and_solver(tmp_path) -> None:
    X, y = _scaled(3)
    model = SoftLogisticRegression(penalty="l1", penalty_strength=1e-2).fit(X, y)
    path = model.save(tmp_path / "logistic.safetensors")
    loaded = ikd.load(path)
    assert isinstance(loaded, SoftLogisticRegression)
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    np.testing.assert_array_equal(loaded.intercept_, model.intercept_)
    np.testing.assert_array_equal(loaded.coef_standardized_, model.coef_standardized_)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert (loaded.solver_, loaded.n_iter_) == (model.solver_, model.n_iter_)


# ------------------------------------------------------------------ the solvers alone
def test_lbfgs_solves_a_quadratic_exactly() -> None:
    rng = np.random.default_rng(0)
    A = torch.as_tensor(rng.normal(size=(8, 8)))
    H = A @ A.T + torch.eye(8, dtype=torch.float64)
    c = torch.as_tensor(rng.normal(size=8))
    x = torch.nn.Parameter(torch.zeros(8, dtype=torch.float64))
    history = minimize_lbfgs(lambda: 0.5 * x @ H @ x - c @ x, [x], max_iter=200, tol=1e-7)
    np.testing.assert_allclose(x.detach().numpy(), torch.linalg.solve(H, c).numpy(), atol=1e-6)
    assert history[-1]["grad_max"] <= 1e-6 and len(history) < 200


def test_fista_solves_a_lasso_with_a_known_answer() -> None:
    """With f = ||x - a||^2 / 2, the L1 solution is soft_threshold(a, lambda)."""
    a = torch.tensor([3.0, -0.5, 0.2, -2.0], dtype=torch.float64)
    x = torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))
    b = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))

    def f() -> torch.Tensor:
        return 0.5 * (x - a).pow(2).sum() + 0.5 * (b - 1.5).pow(2).sum()

    minimize_fista(f, [x], [b], strength=1.0, lipschitz=0.1, max_iter=500, tol=1e-10)
    np.testing.assert_allclose(x.detach().numpy(), [2.0, 0.0, 0.0, -1.0], atol=1e-8)
    assert x[1].item() == 0.0 and x[2].item() == 0.0  # exact zeros
    np.testing.assert_allclose(b.detach().numpy(), [1.5], atol=1e-8)  # the free part


def test_auto_penalty_is_scikit_learns_default_c_at_every_size(binary_data) -> None:
    """penalty_strength="auto" regularises like LogisticRegression() (C = 1) on the same
    standardised rows: 1 / n for two classes, so the coefficients agree."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    X, y = binary_data
    model = SoftLogisticRegression(tol=1e-8, random_state=0).fit(X, y)
    assert model.penalty_strength_ == pytest.approx(1.0 / X.shape[0])
    reference = LogisticRegression(tol=1e-10, max_iter=10_000).fit(
        StandardScaler().fit_transform(X), y
    )
    np.testing.assert_allclose(model.coef_standardized_, reference.coef_, rtol=2e-3, atol=2e-4)
