"""The additive student's data-adaptive rules: knots on tied columns, the "auto" sizes,
the temperature-scaled smoothness, and the pair screen's cross-tables."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.base import clone

from interpretable_kd._defaults import ADDITIVE_MAX_KNOTS, ADDITIVE_MIN_KNOTS, ADDITIVE_MIN_PAIRS
from interpretable_kd._torch_utils import Targets
from interpretable_kd.exceptions import ParameterError
from interpretable_kd.students._additive_module import quantile_knots
from interpretable_kd.students._additive_solver import screen_pairs
from interpretable_kd.students.additive import AdditiveClassifier, auto_sizes


def test_tied_column_gets_knots_in_its_tail() -> None:
    """90% zeros and a tail of 300 distinct values: row quantiles alone give 1 + ~3
    knots; the top-up spends the rest over the distinct values, so the tail has knots."""
    rng = np.random.default_rng(0)
    column = np.where(rng.random(3000) < 0.9, 0.0, rng.integers(1, 301, 3000).astype(float))
    row_quantiles = np.unique(np.quantile(column, np.linspace(0, 1, 16)))
    assert row_quantiles.size < 8
    knots = quantile_knots(column, 16)
    assert knots.size == 16
    assert np.all(np.diff(knots) > 0)
    assert knots[0] == column.min() and knots[-1] == column.max()
    assert set(row_quantiles) <= set(knots)
    assert np.sum(knots > np.quantile(column, 0.95)) >= 8


def test_continuous_column_keeps_its_row_quantiles() -> None:
    column = np.random.default_rng(1).normal(size=2000)
    np.testing.assert_array_equal(
        quantile_knots(column, 20), np.quantile(column, np.linspace(0, 1, 20))
    )


@pytest.mark.parametrize(
    ("n_rows", "n_features", "knots", "pairs"),
    [
        (100, 30, ADDITIVE_MIN_KNOTS, ADDITIVE_MIN_PAIRS),  # few rows: the floors
        (4_900, 30, 70, 76),  # sqrt(4900) knots; n / 64 pairs (< 3 d = 90)
        (40_000, 30, ADDITIVE_MAX_KNOTS, 90),  # the knot cap; 3 pairs per feature
        (40_000, 5, ADDITIVE_MAX_KNOTS, ADDITIVE_MIN_PAIRS),  # 3 d = 15 < the floor
    ],
)
def test_auto_sizes_follow_the_rows_and_features(n_rows, n_features, knots, pairs) -> None:
    assert auto_sizes(n_rows, n_features, "auto", "auto") == (knots, pairs)
    assert auto_sizes(n_rows, n_features, 7, 3) == (7, 3)  # an int is kept


def test_fitted_sizes_are_recorded_and_capped_by_the_pairs_there_are() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    model = AdditiveClassifier(random_state=0).fit(X, y)
    assert (model.n_knots_, model.max_interactions_) == auto_sizes(300, 4, "auto", "auto")
    assert model.module_.n_knots == model.n_knots_
    assert len(model.interactions_) <= 6  # 4 features: 6 pairs at most
    assert model.module_.max_pairs == 6


@pytest.mark.parametrize(("name", "value"), [("n_knots", "many"), ("max_interactions", "all")])
def test_auto_parameters_reject_other_strings(name, value) -> None:
    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(ParameterError, match=rf"'{name}' parameter .* must be 'auto' or an int"):
        AdditiveClassifier(**{name: value}).fit(X, X[:, 0] > 0)


def test_smoothness_keeps_its_weight_relative_to_a_sharpened_loss() -> None:
    """The soft term is T^2 KL: the smoothness weight is scaled by T^2 with it."""
    model = AdditiveClassifier(smoothness=2.0)
    soft = torch.zeros(5, 2)
    assert model._smoothness(Targets(None, soft, 0.5, 0.0)) == pytest.approx(0.5)
    assert model._smoothness(Targets(None, soft, 4.0, 0.0)) == pytest.approx(32.0)
    hard = torch.zeros(5, dtype=torch.int64)
    assert model._smoothness(Targets(hard, None, 1.0, 1.0)) == pytest.approx(2.0)


def _brute_force_gain(x_i, x_j, residual, cuts_i, cuts_j):
    """Best four-quadrant gain over every pair of cuts, minus the one-constant fit."""
    best = -np.inf
    for a in cuts_i:
        for b in cuts_j:
            gain = 0.0
            for q_i in (x_i <= a, x_i > a):
                for q_j in (x_j <= b, x_j > b):
                    rows = q_i & q_j
                    if rows.any():
                        gain += (residual[rows].sum(0) ** 2).sum() / rows.sum()
            best = max(best, gain)
    return best - (residual.sum(0) ** 2).sum() / len(residual)


def test_screen_ranks_pairs_by_the_brute_force_fast_gain() -> None:
    """The cross-tables from one-hot products give the same scores as enumerating every
    cut of every pair directly (4 features, discrete values: one bin per value)."""
    rng = np.random.default_rng(3)
    X = rng.integers(0, 4, size=(400, 4)).astype(float)
    residual = np.column_stack(
        [np.where((X[:, 0] > 1) == (X[:, 2] > 2), 1.0, -1.0) + 0.3 * rng.normal(size=400)]
    )
    knots = [np.unique(X[:, j]) for j in range(4)]
    scores = {}
    for i in range(4):
        for j in range(i + 1, 4):
            scores[(i, j)] = _brute_force_gain(
                X[:, i], X[:, j], residual, knots[i][:-1], knots[j][:-1]
            )
    expected = [pair for pair, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))]
    expected = [pair for pair in expected if scores[pair] > 0]
    assert screen_pairs(X, residual, knots, 6) == expected
    assert expected[0] == (0, 2)


def test_block_whitening_makes_each_terms_hessian_block_the_identity() -> None:
    """In u (phi = P u) every term's own block of ``c * A^T A / n + R`` is I; a column
    the row sample misses is taken as uncorrelated, with the scale it has on all rows."""
    from scipy import sparse

    from interpretable_kd.students._additive_solver import block_whitening

    rng = np.random.default_rng(0)
    n = 400
    # term 0: two correlated columns; term 1: three columns, the last seen in one row only
    a = rng.normal(size=n)
    dense = np.column_stack([a, a + 0.1 * rng.normal(size=n), rng.normal(size=(n, 2)), np.zeros(n)])
    dense[n - 1, 4] = 5.0
    dense /= np.sqrt((dense**2).mean(axis=0))  # mean square 1, as the solver scales them
    A = sparse.csr_matrix(dense)
    R = sparse.diags(np.full(5, 1e-3)).tocsr()
    term = np.array([0, 0, 1, 1, 1])
    P, Lt = block_whitening(A, R, term, curvature=0.25, max_rows=n)
    H = 0.25 * (dense.T @ dense) / n + R.toarray()
    P_dense = P.toarray()
    whitened = P_dense.T @ H @ P_dense
    np.testing.assert_allclose(whitened[:2, :2], np.eye(2), atol=1e-5)
    np.testing.assert_allclose(whitened[2:4, 2:4], np.eye(2), atol=0.2)  # sampled correlation
    np.testing.assert_allclose(Lt.toarray() @ P_dense, np.eye(5), atol=1e-9)
    u = np.random.default_rng(1).normal(size=(5, 2))
    np.testing.assert_allclose(P @ u, P_dense @ u, atol=1e-12)
    np.testing.assert_allclose(P.rmatmul(u), P_dense.T @ u, atol=1e-12)
    # rows 0..n-2 only: column 4 is never seen; its block entry is still c * 1 + R, finite
    P_small, _ = block_whitening(A[: n - 1], R, term, curvature=0.25, max_rows=n)
    assert np.isfinite(P_small.toarray()).all()
    assert P_small.toarray()[4, 4] == pytest.approx(1 / np.sqrt(0.25 + 1e-3), rel=1e-6)


def test_block_whitening_weighs_rows_by_their_curvature() -> None:
    """With one curvature per row (the loss's, at the start), each term's block of
    ``A^T diag(c) A / n + R`` is whitened to I (all rows in the sample: exact)."""
    from scipy import sparse

    from interpretable_kd.students._additive_solver import block_whitening

    rng = np.random.default_rng(5)
    n = 300
    dense = rng.normal(size=(n, 4)) * (rng.random((n, 4)) < 0.5)
    dense[:, 1] += 0.8 * dense[:, 0]
    dense /= np.sqrt((dense**2).mean(axis=0))
    c = rng.uniform(0.01, 0.25, size=n)
    R = sparse.diags(np.full(4, 1e-3)).tocsr()
    P, _ = block_whitening(
        sparse.csr_matrix(dense), R, np.array([0, 0, 1, 1]), curvature=c, max_rows=n
    )
    H = (dense.T * c) @ dense / n + R.toarray()
    whitened = P.toarray().T @ H @ P.toarray()
    np.testing.assert_allclose(whitened[:2, :2], np.eye(2), atol=1e-6)
    np.testing.assert_allclose(whitened[2:, 2:], np.eye(2), atol=1e-6)


def test_row_curvature_is_the_losses_second_derivative() -> None:
    """Two classes, soft targets only: ``q (1 - q)`` with ``q = sigmoid(z / T)``, the
    second derivative of the objective in z (``T^2 KL``: the T^2 cancels the 1 / T^2 of
    the chain rule), checked by autograd; with hard labels weighted in."""
    from interpretable_kd.losses import kd_loss_from_log_targets
    from interpretable_kd.students._additive_solver import row_curvature

    z = torch.linspace(-6, 6, 7, dtype=torch.float64)
    logits = torch.stack([torch.zeros_like(z), z], 1)
    generator = torch.Generator().manual_seed(0)
    teacher = torch.log_softmax(torch.randn(7, 2, dtype=torch.float64, generator=generator), 1)
    for T, w in ((0.5, 0.0), (2.0, 0.0), (2.0, 0.3)):
        y = torch.tensor([0, 1, 1, 0, 1, 0, 1])
        targets = Targets(y if w else None, teacher, T, w)
        got = row_curvature(logits, targets)
        for i in range(7):
            zi = z[i : i + 1].clone().requires_grad_(True)
            loss = kd_loss_from_log_targets(
                torch.stack([torch.zeros_like(zi), zi], 1),
                teacher[i : i + 1],
                y[i : i + 1] if w else None,
                temperature=T,
                hard_label_weight=w,
            )
            (g,) = torch.autograd.grad(loss, zi, create_graph=True)
            (h,) = torch.autograd.grad(g.sum(), zi)
            assert got[i] == pytest.approx(max(float(h), 1e-6), rel=1e-6)


def test_final_fit_after_the_search_is_the_single_fit_at_the_chosen_temperature() -> None:
    """temperature='auto': the final additive fit starts afresh on every row (its own knots
    and pair screen), so it equals a fit at the chosen T without a search. Starting it
    from the search's candidate (fitted on 4,000 rows) was measured and dropped: on
    21,000 x 30 rows it stalled at a 36% higher loss and 1.2 points lower fidelity."""
    import interpretable_kd as ikd

    rng = np.random.default_rng(4)
    X = rng.normal(size=(2400, 4))
    logit = 2 * X[:, 0] * X[:, 1] + X[:, 2] - X[:, 3] ** 2

    def teacher(rows):
        z = 2 * rows[:, 0] * rows[:, 1] + rows[:, 2] - rows[:, 3] ** 2
        return np.column_stack([np.zeros(len(rows)), z])

    as_teacher = ikd.as_teacher(teacher, output="logits", classes=[0, 1])
    student = AdditiveClassifier(max_interactions=2, max_iter=40, random_state=0)
    searched = ikd.DistilledClassifier(as_teacher, student, random_state=0).fit(X)
    assert searched.temperature_search_ is not None
    single = ikd.DistilledClassifier(
        as_teacher, clone(student), temperature=searched.temperature_, random_state=0
    ).fit(X)
    np.testing.assert_allclose(
        searched.student_.logits(X), single.student_.logits(X), rtol=0, atol=1e-9
    )
    pairs = searched.student_.module_.pairs[: int(searched.student_.module_.n_pairs)]
    assert pairs.tolist()[0] == [0, 1]  # the teacher's interaction ranks first
    assert np.mean(searched.predict(X) == (logit > 0)) > 0.95


def test_auto_pair_axes_keep_every_value_of_a_discrete_column() -> None:
    """interaction_knots='auto': a pair axis on a column with 40 distinct values (an age,
    a count) gets all 40 as knots, a continuous column 16 spread in rank; an int gives
    every axis at most that many, as before."""
    rng = np.random.default_rng(6)
    n = 3000
    X = np.column_stack([rng.integers(18, 58, n), rng.normal(size=n), rng.normal(size=n)])
    y = ((X[:, 0] > 40) ^ (X[:, 1] > 0)).astype(int)
    auto = AdditiveClassifier(max_interactions=3, max_iter=30, random_state=0).fit(X, y)
    fixed = AdditiveClassifier(
        max_interactions=3, interaction_knots=16, max_iter=30, random_state=0
    ).fit(X, y)
    for model, discrete in ((auto, 40), (fixed, 16)):
        module = model.module_
        for p, (i, j) in enumerate(module.pairs[: int(module.n_pairs)].tolist()):
            for axis, feature in enumerate((i, j)):
                expected = discrete if feature == 0 else 16
                assert int(module.pair_active[p, axis]) == expected, (model, feature)
    # the auto grid is as wide as the widest exact axis: 40, not the cap of 64
    assert auto.module_.grid == auto.interaction_knots_ == 40 and fixed.module_.grid == 16
    assert np.mean(auto.predict(X) == y) >= np.mean(fixed.predict(X) == y) - 0.01


def test_a_model_with_a_data_sized_pair_grid_saves_and_loads(tmp_path) -> None:
    """The auto grid's width is a fitted attribute: the loaded model rebuilds the same
    tables and predicts the same."""
    import interpretable_kd as ikd

    rng = np.random.default_rng(8)
    X = np.column_stack([rng.integers(0, 25, 2000), rng.normal(size=2000), rng.normal(size=2000)])
    y = ((X[:, 0] > 12) ^ (X[:, 1] * X[:, 2] > 0)).astype(int)
    model = AdditiveClassifier(max_interactions=3, max_iter=30, random_state=0).fit(X, y)
    assert model.interaction_knots_ == 25
    loaded = ikd.load(model.save(tmp_path / "additive.safetensors"))
    assert loaded.module_.grid == 25
    np.testing.assert_array_equal(loaded.logits(X), model.logits(X))


def test_block_whitening_scales_a_wide_term_column_by_column() -> None:
    """A term wider than DENSE_BLOCK_MAX columns is not factored whole: its part of P is
    diagonal, 1 / sqrt(H_ii), so P^T H P has a unit diagonal there."""
    from scipy import sparse

    from interpretable_kd.students._additive_solver import DENSE_BLOCK_MAX, block_whitening

    rng = np.random.default_rng(7)
    n, wide = 400, DENSE_BLOCK_MAX + 4
    dense = np.zeros((n, wide + 2))
    dense[np.arange(n), rng.integers(0, wide, n)] = 1.0  # one cell per row
    dense[:, wide:] = rng.normal(size=(n, 2))
    keep = (dense != 0).any(axis=0)
    dense = dense[:, keep]
    dense /= np.sqrt((dense**2).mean(axis=0))
    p = dense.shape[1]
    term = np.r_[np.zeros(p - 2, int), [1, 1]]
    R = sparse.diags(np.full(p, 1e-3)).tocsr()
    P, _ = block_whitening(sparse.csr_matrix(dense), R, term, curvature=0.25, max_rows=n)
    P_dense = P.toarray()
    assert (
        np.count_nonzero(P_dense[: p - 2, : p - 2] - np.diag(np.diag(P_dense[: p - 2, : p - 2])))
        == 0
    )
    H = 0.25 * dense.T @ dense / n + R.toarray()
    whitened = P_dense.T @ H @ P_dense
    np.testing.assert_allclose(np.diag(whitened), 1.0, atol=1e-6)


def _fitted_module(seed: int = 5) -> tuple[np.ndarray, AdditiveClassifier]:
    rng = np.random.default_rng(seed)
    columns = [rng.normal(size=600), rng.integers(0, 2, 600), rng.integers(0, 7, 600)]
    X = np.column_stack([*columns, rng.normal(size=600)])
    y = (X[:, 0] * X[:, 3] + X[:, 1] - 0.3 * X[:, 2] + rng.normal(size=600) > 0).astype(int)
    return X, AdditiveClassifier(max_interactions=3, max_iter=30, random_state=0).fit(X, y)


def test_design_is_a_canonical_sparse_matrix_that_reproduces_every_term() -> None:
    """The design is built row by row in table order: sorted column indices, no
    duplicates and no stored zeros (a binary column reads one knot), and
    ``bias + D @ table`` is the sum of the terms ``terms`` computes (their own formula),
    with and without gradients."""
    X, model = _fitted_module()
    module = model.module_
    seen = model._standardise(np.asarray(X, dtype=np.float32))  # what the network sees
    x = torch.as_tensor(np.asarray(seen), dtype=torch.float64)
    D = module.design(x)
    assert D.has_canonical_format and D.has_sorted_indices
    copy = D.copy()
    copy.sum_duplicates()
    copy.eliminate_zeros()
    assert copy.nnz == D.nnz and np.all(D.data != 0)
    assert np.all(np.diff(D.indptr) <= 2 * 4 + 4 * int(module.n_pairs))
    binary_column = D[:, 1 * module.n_knots : 2 * module.n_knots]
    assert np.all(np.diff(binary_column.indptr) == 1)  # each row on a knot of the 0/1 column
    with torch.no_grad():
        mains, pairs = module.terms(x)
    expected = module.bias.detach() + mains.sum(1) + pairs.sum(1)
    table = torch.cat([module.main, module.pair]).detach().numpy()
    np.testing.assert_allclose(D @ table + module.bias.detach().numpy(), expected, atol=1e-12)
    with torch.no_grad():
        fast = module(x)
    slow = module(x)  # parameters require grad: the differentiable path
    assert slow.requires_grad and not fast.requires_grad
    np.testing.assert_allclose(fast.numpy(), slow.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(fast[:, 1].numpy(), expected[:, 0].numpy(), atol=1e-12)


def test_row_blocks_multiply_like_the_whole_matrix() -> None:
    from scipy import sparse

    from interpretable_kd.students._additive_solver import RowBlocks

    rng = np.random.default_rng(0)
    A = sparse.random(101, 37, density=0.2, format="csr", random_state=1)
    x, g = rng.normal(size=(37, 2)), rng.normal(size=(101, 2))
    for threads in (1, 3):
        with RowBlocks(A, threads) as product:
            assert len(product.blocks) == threads
            np.testing.assert_allclose(product @ x, A @ x, atol=1e-12)
            np.testing.assert_allclose(product.rmatmul(g), A.T @ g, atol=1e-12)
        assert product.pool is None  # the threads end with the block


def test_search_cache_keeps_work_for_the_search_and_drops_it_after() -> None:
    from interpretable_kd._search_hooks import search_cache, search_cached

    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    rows = np.arange(12.0).reshape(4, 3)
    assert search_cached(("k",), rows, compute) == 1  # no scope: computed every time
    assert search_cached(("k",), rows, compute) == 2
    with search_cache():
        first = search_cached(("k",), rows, compute)
        assert search_cached(("k",), rows.copy(), compute) == first  # equal rows hit
        assert search_cached(("other",), rows, compute) == first + 1  # another key
        assert search_cached(("k",), rows + 1, compute) == first + 2  # other rows
        with search_cache():  # nested: the outer store
            assert search_cached(("k",), rows, compute) == first
    assert search_cached(("k",), rows, compute) == first + 3  # dropped with the scope


def test_threaded_products_fit_the_same_model() -> None:
    """n_jobs=2 splits the solver's products into two row blocks: the same optimum up to
    the order of floating-point sums."""
    X, fitted = _fitted_module()
    y = (X[:, 0] * X[:, 3] > 0).astype(int)
    one = clone(fitted).set_params(n_jobs=1).fit(X, y)
    two = clone(fitted).set_params(n_jobs=2).fit(X, y)
    np.testing.assert_allclose(one.logits(X), two.logits(X), atol=1e-5)
    assert one._product_threads(one.module_) == 1 and two._product_threads(two.module_) == 2


@pytest.mark.parametrize(
    ("n_rows", "knots"), [(10, 4), (124, 6), (398, 10), (1024, 16), (10**6, 16)]
)
def test_pair_spread_knots_follow_the_rows(n_rows, knots) -> None:
    from interpretable_kd.students.additive import pair_spread_knots

    assert pair_spread_knots(n_rows) == knots


def test_a_small_fit_spreads_fewer_knots_on_continuous_pair_axes() -> None:
    """On 200 rows a continuous pair axis gets round(sqrt(200 / 4)) = 7 knots, ends
    included (about 4 rows a cell); a binary axis keeps its two values."""
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.normal(size=200), rng.normal(size=200), rng.integers(0, 2, 200)])
    y = (X[:, 0] * X[:, 1] + X[:, 2] > 0.3).astype(int)
    module = AdditiveClassifier(max_interactions=3, random_state=0).fit(X, y).module_
    used = int(module.n_pairs)
    active = {
        (int(module.pairs[p, axis]), int(module.pair_active[p, axis]))
        for p in range(used)
        for axis in (0, 1)
    }
    assert {(0, 7), (1, 7)} <= active and (2, 2) in active
    assert module.grid == 7


@pytest.mark.parametrize(
    "mass", [[3.0, 1.0, 0.5, 2.0], [1.0, 0.0, 0.0], [0.0, 0.0], [0.0, 2.0, 5.0]]
)
def test_centred_basis_is_orthonormal_and_blind_to_the_mass(mass) -> None:
    """Z (m x (m - 1)) has orthonormal columns orthogonal to the hat masses (uniform when
    no row touches the axis), so ``theta = Z_i Psi Z_j^T`` has zero mass-weighted margins."""
    from interpretable_kd.students._additive_solver import centred_basis

    v = np.asarray(mass)
    Z = centred_basis(v)
    assert Z.shape == (v.size, v.size - 1)
    np.testing.assert_allclose(Z.T @ Z, np.eye(v.size - 1), atol=1e-12)
    weights = v if v.any() else np.ones_like(v)
    np.testing.assert_allclose(weights @ Z, 0.0, atol=1e-12)


def test_block_whitening_in_a_contrast_span_whitens_there_and_keeps_margins_at_zero() -> None:
    """A term given contrast factors (Z_i, Z_j) is whitened in their span: P = K L^-T with
    K = Z_i kron Z_j, so P^T H P = I on its w = (m_i - 1)(m_j - 1) variables, every column
    of P is a grid with zero mass-weighted row and column sums, and Lt maps P back to I;
    the matrix-free products equal the dense ones."""
    from scipy import sparse

    from interpretable_kd.students._additive_solver import block_whitening, centred_basis

    rng = np.random.default_rng(3)
    n, mi, mj = 500, 3, 4
    # term 0: one plain column; term 1: a 3 x 4 grid of cells, one cell per row
    a, b = rng.integers(0, mi, n), rng.integers(0, mj, n)
    grid = np.zeros((n, mi * mj))
    grid[np.arange(n), a * mj + b] = rng.uniform(0.5, 1.5, n)
    dense = np.column_stack([rng.normal(size=n), grid])
    R = sparse.diags(np.full(1 + mi * mj, 1e-3)).tocsr()
    mass = grid.sum(axis=0).reshape(mi, mj)
    factors = (centred_basis(mass.sum(1)), centred_basis(mass.sum(0)))
    term = np.r_[0, np.ones(mi * mj, int)]
    curvature = np.full(n, 0.25)  # per row: each column's scale is measured (unscaled cells)
    P, Lt = block_whitening(
        sparse.csr_matrix(dense), R, term, curvature=curvature, max_rows=n, contrasts={1: factors}
    )
    width = (mi - 1) * (mj - 1)
    assert P.shape == (1 + mi * mj, 1 + width) and Lt.shape == (1 + width, 1 + mi * mj)
    P_dense = P.toarray()
    H = 0.25 * dense.T @ dense / n + R.toarray()
    whitened = P_dense.T @ H @ P_dense  # each term's own block (not across terms)
    assert whitened[0, 0] == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_allclose(whitened[1:, 1:], np.eye(width), atol=1e-6)
    cells = P_dense[1:, 1:].T.reshape(width, mi, mj)
    np.testing.assert_allclose(np.einsum("a,wab->wb", mass.sum(1), cells), 0.0, atol=1e-10)
    np.testing.assert_allclose(np.einsum("wab,b->wa", cells, mass.sum(0)), 0.0, atol=1e-10)
    np.testing.assert_allclose(Lt.toarray() @ P_dense, np.eye(1 + width), atol=1e-9)
    u, v = rng.normal(size=(1 + width, 2)), rng.normal(size=(1 + mi * mj, 2))
    np.testing.assert_allclose(P @ u, P_dense @ u, atol=1e-12)
    np.testing.assert_allclose(P.rmatmul(v), P_dense.T @ v, atol=1e-12)
    np.testing.assert_allclose(Lt @ v, Lt.toarray() @ v, atol=1e-12)


def test_joint_solve_reaches_its_optimum_within_the_default_iterations() -> None:
    """Pair terms solved in contrasts carry no main effect, so the joint problem is well
    conditioned: at the default 100 iterations the objective is within 1% of the optimum
    (1,000 iterations at a 1e-9 tolerance) on rows whose pairs share features. Anchoring
    each grid's first row and column instead left it 2.9% above (measured)."""
    rng = np.random.default_rng(0)
    n = 3000
    X = rng.normal(size=(n, 5))
    X[:, 1] += 0.6 * X[:, 0]  # correlated columns: the pairs' margins overlap more
    logit = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] - X[:, 0] * X[:, 3] + 0.5 * X[:, 4] ** 2
    y = (logit + 0.3 * rng.normal(size=n) > 0).astype(int)
    model = AdditiveClassifier(max_interactions=4, random_state=0)
    default = clone(model).fit(X, y)
    optimum = clone(model).set_params(max_iter=1000, tol=1e-9).fit(X, y)
    final = default.history_[-1]["train_loss"]
    best = optimum.history_[-1]["train_loss"]
    assert best <= final <= 1.01 * best


def test_a_wide_pair_grid_in_contrasts_is_scaled_there_and_keeps_margins_at_zero() -> None:
    """A contrast term wider than DENSE_BLOCK_MAX cells is not factored whole: P = K
    diag(K^T H K)^-1/2, so P^T H P has a unit diagonal there, every column of P is a
    grid with zero mass-weighted margins, and Lt undoes P."""
    from scipy import sparse

    from interpretable_kd.students._additive_solver import (
        DENSE_BLOCK_MAX,
        block_whitening,
        centred_basis,
    )

    rng = np.random.default_rng(4)
    mi, mj = 20, 16
    assert mi * mj > DENSE_BLOCK_MAX
    n = 3000
    a, b = rng.integers(0, mi, n), rng.integers(0, mj, n)
    frac = rng.uniform(size=n)  # a row splits its weight between two neighbouring cells
    grid = np.zeros((n, mi * mj))
    grid[np.arange(n), a * mj + b] = 1 - frac
    grid[np.arange(n), a * mj + np.minimum(b + 1, mj - 1)] += frac
    R = sparse.diags(np.full(mi * mj, 1e-3)).tocsr()
    mass = grid.sum(axis=0).reshape(mi, mj)
    factors = (centred_basis(mass.sum(1)), centred_basis(mass.sum(0)))
    P, Lt = block_whitening(
        sparse.csr_matrix(grid),
        R,
        np.zeros(mi * mj, int),
        curvature=np.full(n, 0.25),
        max_rows=n,
        contrasts={0: factors},
    )
    width = (mi - 1) * (mj - 1)
    P_dense = P.toarray()
    assert P_dense.shape == (mi * mj, width)
    H = 0.25 * grid.T @ grid / n + R.toarray()
    np.testing.assert_allclose(np.diag(P_dense.T @ H @ P_dense), 1.0, atol=1e-6)
    cells = P_dense.T.reshape(width, mi, mj)
    np.testing.assert_allclose(np.einsum("a,wab->wb", mass.sum(1), cells), 0.0, atol=1e-9)
    np.testing.assert_allclose(np.einsum("wab,b->wa", cells, mass.sum(0)), 0.0, atol=1e-9)
    np.testing.assert_allclose(Lt.toarray() @ P_dense, np.eye(width), atol=1e-9)
    u = rng.normal(size=(width, 3))
    np.testing.assert_allclose(P @ u, P_dense @ u, atol=1e-12)


def test_parallel_search_candidates_fit_the_same_models_and_leave_no_global_change(
    monkeypatch,
) -> None:
    """With two search workers the continued candidates fit on two threads at once; each
    comes out as it does one after another (the same validation table to the bit, the
    same final model), and torch's thread count and random state, and BLAS's thread
    limits, are the caller's afterwards."""
    import pandas as pd
    from threadpoolctl import threadpool_info

    import interpretable_kd as ikd

    rng = np.random.default_rng(6)
    X = rng.normal(size=(2400, 5))

    def teacher(rows):
        z = np.sin(2 * rows[:, 0]) + rows[:, 1] * rows[:, 2] - 0.5 * rows[:, 3] ** 2
        return np.column_stack([np.zeros(len(rows)), z])

    as_teacher = ikd.as_teacher(teacher, output="logits", classes=[0, 1])
    torch.manual_seed(123)
    expected_draw = torch.rand(1)
    fits = {}
    for workers in (1, 2):
        monkeypatch.setattr(AdditiveClassifier, "_search_workers", lambda self, w=workers: w)
        threads, blas = torch.get_num_threads(), [i["num_threads"] for i in threadpool_info()]
        torch.manual_seed(123)
        student = AdditiveClassifier(max_interactions=4, random_state=0)
        fits[workers] = ikd.DistilledClassifier(as_teacher, student, random_state=0).fit(X)
        assert torch.equal(torch.rand(1), expected_draw)  # the caller's random state
        assert torch.get_num_threads() == threads
        assert [i["num_threads"] for i in threadpool_info()] == blas
    one, two = fits[1].temperature_search_, fits[2].temperature_search_
    assert (one.attrs["workers"], two.attrs["workers"]) == (1, 2)
    columns = ["temperature", "start", "validation_fidelity", "validation_kl", "chosen"]
    pd.testing.assert_frame_equal(one[columns], two[columns])
    np.testing.assert_array_equal(fits[1].student_.logits(X), fits[2].student_.logits(X))


def test_a_search_candidate_has_no_gradient_stop(monkeypatch) -> None:
    """A candidate continued from the T = 1 fit stops only on its iteration budget or a
    loss that stops falling: a gradient stop scaled at that start (fitted at another T)
    let a sharp T end after 3 iterations on synthetic_100k, still at the T = 1 model, and
    win the search by a few rows. A cold fit keeps its gradient stop. The continuation at
    T = 0.1 reaches the loss of the T = 0.1 fit from scratch (within 10%)."""
    import copy

    from scipy import optimize

    from interpretable_kd.losses import kd_loss_from_log_targets, log_soften
    from interpretable_kd.students import _additive_solver

    gtols: list[float] = []
    real = optimize.minimize

    def minimize(*args, **kwargs):
        gtols.append(kwargs["options"]["gtol"])
        return real(*args, **kwargs)

    monkeypatch.setattr(_additive_solver.optimize, "minimize", minimize)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 5))
    z = np.sin(2 * X[:, 0]) + X[:, 1] * X[:, 2] - 0.5 * X[:, 3] ** 2 + 0.3 * X[:, 4]
    logits = np.column_stack([np.zeros(len(X)), 3.0 * z])
    kwargs = {"classes": np.array([0, 1]), "hard_label_weight": 0.0}
    start = AdditiveClassifier(max_interactions=4, random_state=0)
    start._fit_distill(X, logits, None, temperature=1.0, **kwargs)
    assert len(gtols) == 2 and min(gtols) > 0  # two cold stages
    sharp = copy.deepcopy(start)
    sharp._fit_distill(X, logits, None, temperature=0.1, warm_start=True, **kwargs)
    assert gtols[2:] == [0.0]
    cold = AdditiveClassifier(max_interactions=4, random_state=0)
    cold._fit_distill(X, logits, None, temperature=0.1, **kwargs)
    teacher = log_soften(torch.as_tensor(logits), 0.1)

    def loss_at_01(student: AdditiveClassifier) -> float:
        student_logits = torch.as_tensor(student.logits(X), dtype=torch.float64)
        return float(
            kd_loss_from_log_targets(
                student_logits, teacher, temperature=0.1, hard_label_weight=0.0
            )
        )

    assert loss_at_01(sharp) <= 1.1 * loss_at_01(cold) < 0.2 * loss_at_01(start)


def test_search_workers_follow_n_jobs() -> None:
    """An L-BFGS fit's candidates fit on n_jobs threads (None: every core); an Adam fit's
    one after another (its continuation is step-trained)."""
    from interpretable_kd._torch_utils import resolve_threads

    X = np.random.default_rng(0).normal(size=(300, 3))
    y = (X[:, 0] > 0).astype(int)
    lbfgs = AdditiveClassifier(max_interactions=1, max_iter=10, random_state=0)
    assert clone(lbfgs).set_params(n_jobs=3).fit(X, y)._search_workers() == 3
    assert clone(lbfgs).fit(X, y)._search_workers() == resolve_threads(-1)
    adam = clone(lbfgs).set_params(solver="adam", max_epochs=2).fit(X, y)
    assert adam._search_workers() == 1
