"""The additive student's solver pieces: full-batch L-BFGS on the sparse basis, the
FAST-style pair screen, and the grouping of one-hot columns.

The model is linear in its parameters theta (:mod:`._additive_module`): decision values
``z = A theta + b`` with A the sparse design (2 entries per feature and row, 4 per pair).
:func:`lbfgs_solve` minimises ``loss(z) + sum_k theta_k^T R theta_k`` (R the smoothness
and ridge penalty, scaled by 1 / n rows) over all rows at once, with scipy's sparse
products for A and A^T (on row blocks, a thread each: :class:`RowBlocks`) and scipy's
L-BFGS-B (no bounds; compiled, and it spares the first fit of a process the second-long
import that torch's optimiser triggers) on the diagonally preconditioned parameters
``phi = c * theta`` (c: each basis column's RMS), whitened per term
(:func:`block_whitening`). A pair grid moves only in contrasts that leave its margins
at zero (:func:`pair_contrasts`), so no pair holds what a main effect or another pair
on the same feature can: on 3,000 rows with overlapping pairs the default 100
iterations end 0.45% above the optimum, where anchoring the grid's first row and column
ended 2.9% above (``tests/test_additive_rules.py``).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from scipy import optimize, sparse
from scipy.linalg import lapack

from .._torch_utils import Targets
from ._additive_module import AdditiveModule, Basis

__all__ = ["feature_groups", "lbfgs_solve", "screen_pairs"]

#: Widest term whose block of the Hessian is whitened as a whole (a 16 x 16 pair grid);
#: a wider one is scaled column by column, a wider pair grid contrast by contrast
#: (:func:`block_whitening`).
DENSE_BLOCK_MAX = 256
#: Entries of one row chunk of the screen's one-hot bin matrix (8 MB of float64).
SCREEN_CHUNK_ENTRIES = 1_000_000


def lbfgs_solve(
    module: AdditiveModule,
    X_t: torch.Tensor,
    targets: Targets,
    loss_fn: Callable[[torch.Tensor, Targets], torch.Tensor],
    *,
    smoothness: float,
    ridge: float,
    max_iter: int,
    tol: float,
    device: torch.device,
    warm: bool = False,
    basis: Basis | None = None,
    threads: int = 1,
) -> list[dict[str, float]]:
    """Fit the module's free parameters to the optimum of the convex objective.

    Anchored parameters (``module.free_masks``) and padding keep their values and are
    not variables of the solve (they enter as a fixed offset of z and of the penalty);
    a pair grid has none anchored and moves in its contrasts instead
    (:func:`pair_contrasts`; the part of a warm start outside them stays put).
    Stops when the largest gradient entry falls below ``tol`` times its starting value
    (a cold fit only), when the loss falls by less than ``tol * 1e-6`` of its size in one
    iteration (L-BFGS-B's ``ftol``), or after ``max_iter`` iterations.

    Parameters
    ----------
    module : AdditiveModule
        Knots and pairs set; its parameters are the starting point and get the result.
    X_t : Tensor of shape (n_rows, d)
        Standardised rows.
    targets : Targets
        Labels and/or the softened teacher.
    loss_fn : callable
        ``loss_fn(z, targets)``: the distillation objective on decision values z of shape
        (n_rows, n_out), a scalar Tensor.
    smoothness, ridge : float
        Penalty weights in units of one row's loss (divided by n here).
    max_iter : int
        Most L-BFGS iterations.
    tol : float
        Relative stopping tolerance.
    device : torch.device
        Where the module goes back to afterwards.
    warm : bool
        The start is a fitted model (another temperature's, on the same rows): no
        gradient stop, so every continuation runs ``max_iter`` iterations unless its loss
        stops falling. A start fitted at another T sets no fair gradient scale: measured
        on 4,000 rows of ``synthetic_100k`` (MLP teacher), continuing a T = 1 fit at
        T = 0.1 met a gradient stop scaled at that start after 3 iterations, still at the
        T = 1 model (validation fidelity 0.9626 against T = 1's 0.9624, where T = 0.1 from
        scratch scores 0.919), while T = 2 ran all 50; that candidate won the search and
        the refit at T = 0.1 on every row lost 0.013 of test fidelity to T = 1. With 50
        iterations the T = 0.1 candidate scores 0.9588 and T = 1 is chosen.
    basis : Basis, optional
        ``module.basis(X_t)``, when already computed.
    threads : int
        The design's products run on this many threads, a block of rows each
        (:class:`RowBlocks`).

    Returns
    -------
    list of dict
        One entry per evaluation of the objective: ``epoch`` (its number) and
        ``train_loss`` (loss plus penalty).
    """
    module.cpu()
    D = basis[1] if basis is not None else module.design(X_t.cpu())
    n = X_t.shape[0]
    o = module.n_out
    # Diagonal preconditioning: solve for phi = c * theta, c = each basis column's RMS.
    squares = sparse.csr_matrix((D.data * D.data, D.indices, D.indptr), shape=D.shape)
    rms = np.sqrt((squares.T @ np.ones(n)) / n)
    del squares
    main_mask, pair_mask = module.free_masks()
    anchored = torch.cat([main_mask, pair_mask]).numpy().ravel() == 0
    free = (rms > 0) & ~anchored
    c = np.where(rms > 0, rms, 1.0)
    # a pair grid is solved in contrasts: every active cell is a column (none anchored,
    # none scaled), moved only along (Z_i kron Z_j)
    contrast = pair_contrasts(module, D)
    for cells, _ in contrast.values():
        free[cells] = True
        c[cells] = 1.0
    table = module.table_array()
    phi_all = table * c[:, None]
    # Only the free columns are variables (padding and anchored cells are not): the
    # fixed ones add a constant offset to z and a linear and constant part to the penalty.
    fixed = ~free
    held = np.where(fixed[:, None], table, 0.0)
    offset = D @ held if held.any() else np.zeros((n, o))  # 0 in a cold fit
    column = np.cumsum(free) - 1  # a free basis column's number among the variables
    is_free = free[D.indices]
    kind = D.indices.dtype  # int32 where the design has it: lighter products
    free_before = np.zeros(D.nnz + 1, dtype=kind)  # free entries before each entry
    np.cumsum(is_free, out=free_before[1:])
    kept = D.indices[is_free]
    A = sparse.csr_matrix(
        (D.data[is_free] / c[kept], column[kept].astype(kind), free_before[D.indptr]),
        shape=(n, int(free.sum())),
    )  # the design for phi: column order kept, so still canonical
    A.has_canonical_format = True
    del is_free, kept
    scale_inv = sparse.diags(1.0 / c)
    R = (scale_inv @ module.penalty_matrix(smoothness / n, ridge / n) @ scale_inv).tocsr()
    R_free = R[free][:, free].tocsr()
    cross = np.asarray(R[free][:, fixed] @ phi_all[fixed]) if fixed.any() else 0.0
    constant = float((phi_all[fixed] * (R[fixed][:, fixed] @ phi_all[fixed])).sum())
    columns = np.flatnonzero(free)
    main_size = module.main.shape[0]
    term = np.where(
        columns < main_size,
        columns // module.n_knots,
        module.n_features + (columns - main_size) // (module.grid * module.grid),
    )
    # the loss's curvature per row at the start (a row the start predicts confidently
    # moves the optimum less per unit of z than one near the boundary)
    z_start = A @ phi_all[free] + offset + module.bias.detach().numpy()
    curvature = row_curvature(module.to_logits(torch.from_numpy(z_start)), targets)
    contrasts = {int(module.n_features + p): basis for p, (cells, basis) in contrast.items()}
    P, Lt = block_whitening(A, R_free, term, curvature=curvature, contrasts=contrasts)
    product = RowBlocks(A, threads)
    del A
    u_start = Lt @ phi_all[free]
    # the part of a warm start outside the contrasts' span (a pair's margins) stays put
    remainder = phi_all[free] - P @ u_start
    width_u = P.shape[1]
    start = np.concatenate([module.bias.detach().numpy(), u_start.ravel()])
    teacher = targets.teacher_log_proba
    targets_cpu = Targets(
        None if targets.y is None else targets.y.cpu(),
        None if teacher is None else teacher.cpu().to(torch.float64),
        targets.temperature,
        targets.hard_label_weight,
    )
    history: list[dict[str, float]] = []

    def objective(values: np.ndarray) -> tuple[float, np.ndarray]:
        bias, u = values[:o], values[o:].reshape(width_u, o)
        phi = P @ u + remainder
        z = torch.from_numpy(product @ phi + offset + bias).requires_grad_(True)
        loss = loss_fn(z, targets_cpu)
        (grad_z,) = torch.autograd.grad(loss, z)
        g = grad_z.numpy()
        r_phi = R_free @ phi + cross
        total = float(loss.detach()) + float((phi * (r_phi + cross)).sum()) + constant
        grad = np.concatenate([g.sum(0), P.rmatmul(product.rmatmul(g) + 2.0 * r_phi).ravel()])
        history.append({"epoch": len(history) + 1, "train_loss": total})
        return total, grad

    with product:
        # a cold fit's starting gradient sets its stopping scale; a warm one has none
        scale = 0.0 if warm else float(np.abs(objective(start)[1]).max())
        result = optimize.minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            options={
                "maxiter": max_iter,
                "maxfun": max_iter * 5 // 4 + 5,
                "gtol": tol * scale,
                "ftol": tol * 1e-6,
                "maxcor": 20,
            },
        )
    values = np.asarray(result.x, dtype=np.float64)
    phi_all[free] = P @ values[o:].reshape(width_u, o) + remainder
    table = phi_all / c[:, None]
    with torch.no_grad():
        module.bias.copy_(torch.from_numpy(values[:o].copy()))
        module.main.copy_(torch.from_numpy(table[: module.main.shape[0]].copy()))
        module.pair.copy_(torch.from_numpy(table[module.main.shape[0] :].copy()))
    module.to(device)
    return history


def centred_basis(mass: np.ndarray) -> np.ndarray:
    """Orthonormal columns spanning the vectors orthogonal to ``mass``: Z of shape (m,
    m - 1) with ``mass @ Z = 0`` and ``Z^T Z = I`` (the last m - 1 columns of the
    Householder reflection that maps ``mass`` onto the first axis).

    Parameters
    ----------
    mass : ndarray of shape (m,), m >= 2
        Each hat function's total weight over the rows (its mass); all zero is taken as
        uniform.
    """
    m = mass.size
    e = mass / np.linalg.norm(mass) if np.any(mass) else np.full(m, 1 / np.sqrt(m))
    w = e.copy()
    w[0] -= 1.0
    norm = np.linalg.norm(w)
    reflection = np.eye(m) if norm < 1e-12 else np.eye(m) - 2.0 * np.outer(w, w) / norm**2
    return reflection[:, 1:]


def pair_contrasts(
    module: AdditiveModule, D: sparse.csr_matrix
) -> dict[int, tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]]:
    """Per pair term, its active cells and the contrast basis its weights move in.

    A pair grid theta (m_i x m_j active cells) holds functions of x_i alone in its row
    sums and of x_j alone in its column sums: directions the main effects and the other
    pairs on the same feature also hold, which made the joint problem ill-conditioned
    (anchoring a first row and column removes the exact degeneracy, not the near one).
    Restricting it to ``theta = Z_i Psi Z_j^T``, Z the :func:`centred_basis` of each
    axis's hat masses on the training rows, keeps every pair term free of what the main
    effects can say (the tensor-product construction of mgcv's ``ti``): the weights are
    ``vec(theta) = (Z_i kron Z_j) vec(Psi)``, (m_i - 1)(m_j - 1) variables.

    Parameters
    ----------
    module : AdditiveModule
        Pairs set.
    D : csr_matrix of shape (n_rows, d K + M G^2)
        The design.

    Returns
    -------
    dict
        Pair number -> (its active cells' column numbers in the design, ascending, shape
        (m_i m_j,); ``(Z_i, Z_j)``, of shapes (m_i, m_i - 1) and (m_j, m_j - 1)).
    """
    mass = np.asarray(D.sum(axis=0)).ravel()
    d, K, G = module.n_features, module.n_knots, module.grid
    out: dict[int, tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]] = {}
    for p in range(int(module.n_pairs)):
        mi, mj = (int(v) for v in module.pair_active[p])
        if mi < 2 or mj < 2:
            continue
        a, b = np.meshgrid(np.arange(mi), np.arange(mj), indexing="ij")
        cells = (d * K + p * G * G + a * G + b).ravel()
        grid = mass[cells].reshape(mi, mj)
        out[p] = (cells, (centred_basis(grid.sum(1)), centred_basis(grid.sum(0))))
    return out


def kron_apply(first: np.ndarray, second: np.ndarray, M: np.ndarray) -> np.ndarray:
    """``(first_b kron second_b) @ M_b`` for each b, without forming the Kronecker product.

    Parameters
    ----------
    first : ndarray of shape (B, r1, c1)
    second : ndarray of shape (B, r2, c2)
    M : ndarray of shape (B, c1 c2, w)

    Returns
    -------
    ndarray of shape (B, r1 r2, w)
    """
    B, r1, c1 = first.shape
    r2, c2 = second.shape[1:]
    w = M.shape[2]
    T = (first @ M.reshape(B, c1, c2 * w)).reshape(B, r1, c2, w)
    return (second[:, None] @ T).reshape(B, r1 * r2, w)


def block_whitening(
    A: sparse.csr_matrix,
    R: sparse.csr_matrix,
    term: np.ndarray,
    *,
    curvature: float | np.ndarray,
    max_rows: int = 2000,
    contrasts: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[BlockDiagonal, BlockDiagonal]:
    """A block-diagonal change of variables ``phi = P u`` that whitens each term.

    Per term t (its columns contiguous), ``H_t = A_t^T diag(c) A_t / n + R_tt`` (the
    objective's Hessian block for row curvatures c) is factored ``L_t L_t^T``. Its
    diagonal is exact (every row); the correlations between a term's columns are
    estimated from at most ``max_rows`` evenly spaced rows, a column they miss taken as
    uncorrelated;
    ``P = blockdiag(L_t^-T)``, so in u each term's own block of the Hessian is about the
    identity: the hat functions of one shape, or the cells of one pair grid, are
    correlated in phi and not in u. ``Lt = blockdiag(L_t^T)`` maps phi back to u.

    Parameters
    ----------
    A : csr_matrix of shape (n_rows, p)
        The design (sorted column indices in each row); with one curvature for all rows,
        its columns scaled to mean square 1 (with one per row, each column's weighted
        mean square is measured).
    R : csr_matrix of shape (p, p)
        The penalty (within terms only).
    term : ndarray of shape (p,), int
        Each column's term, non-decreasing.
    curvature : float or ndarray of shape (n_rows,)
        The loss's curvature per row, c (:func:`row_curvature` at the start; 1/4 is a
        logistic loss at z = 0).
    max_rows : int
        Rows the Gram is estimated from.

    Returns
    -------
    P, Lt : BlockDiagonal of size p
    """
    n, p = A.shape
    if p == 0:
        return BlockDiagonal([], (0, 0)), BlockDiagonal([], (0, 0))
    sample = np.unique(np.linspace(0, n - 1, min(n, max_rows)).astype(np.int64))
    rows = A[sample]
    rows.sum_duplicates()
    weights = np.broadcast_to(np.asarray(curvature, dtype=np.float64), (n,))
    if np.ndim(curvature):  # each column's weighted mean square, over all rows
        column_scale = np.asarray(A.power(2).T @ weights).ravel() / n
        rows = sparse.diags(np.sqrt(weights[sample])) @ rows
    else:
        column_scale = np.full(p, float(curvature))
    lengths = np.diff(rows.indptr)
    row_of = np.repeat(np.arange(rows.shape[0]), lengths)
    col, val = rows.indices, rows.data
    t = term[col]
    r_idx, c_idx, v_idx = [col], [col], [val * val]
    for k in range(1, 4):  # a term has at most 4 entries in a row, side by side
        same = (row_of[:-k] == row_of[k:]) & (t[:-k] == t[k:])
        a, b, v = col[:-k][same], col[k:][same], (val[:-k] * val[k:])[same]
        r_idx += [a, b]
        c_idx += [b, a]
        v_idx += [v, v]
    gram = sparse.csr_matrix(
        (np.concatenate(v_idx), (np.concatenate(r_idx), np.concatenate(c_idx))), shape=(p, p)
    )
    # The columns are scaled to mean square 1 over all rows, so the sample only supplies
    # correlations; a column the sample misses (a rare category) is left uncorrelated.
    diagonal = gram.diagonal()
    root = np.sqrt(diagonal)
    inv_root = sparse.diags(np.divide(1.0, root, out=np.zeros_like(root), where=root > 0))
    correlation = inv_root @ gram @ inv_root
    correlation = correlation + sparse.diags(1.0 - correlation.diagonal())
    scale = sparse.diags(np.sqrt(np.maximum(column_scale, 1e-12)))
    H = (scale @ correlation @ scale + R).tocoo()
    # A term wider than DENSE_BLOCK_MAX columns (a pair of discrete columns with many
    # values: each row reads one cell along such an axis, so its cells are nearly
    # uncorrelated) is scaled column by column instead of factored whole.
    contrasts = contrasts or {}
    wide = (np.bincount(term)[term] > DENSE_BLOCK_MAX) & ~np.isin(term, list(contrasts))
    block_of = np.cumsum(np.concatenate([[True], term[1:] != term[:-1]]) | wide) - 1
    bounds = np.flatnonzero(np.diff(np.concatenate([[-1], block_of, [block_of[-1] + 1]])))
    begins, sizes = bounds[:-1], np.diff(bounds)
    within = block_of[H.row] == block_of[H.col]  # R and C stay within terms, not blocks
    H = sparse.coo_matrix((H.data[within], (H.row[within], H.col[within])), shape=H.shape)
    block = block_of[H.row]
    # a term with a contrast basis K (size x width) is whitened in its span: H_K = K^T H K
    # = L L^T, P = K L^-T (one wider than DENSE_BLOCK_MAX is scaled there instead: P = K
    # diag(H_K)^-1/2); any other block in its own columns (K = I)
    factors = [contrasts.get(int(term[b])) for b in begins.tolist()]
    widths = np.array(
        [
            size if f is None else f[0].shape[1] * f[1].shape[1]
            for f, size in zip(factors, sizes.tolist(), strict=True)
        ],
        dtype=np.int64,
    )
    rows_first = np.array([0 if f is None else f[0].shape[0] for f in factors], dtype=np.int64)
    in_begins = np.concatenate([[0], np.cumsum(widths)[:-1]])
    whiten: list[Blocks] = []
    back: list[Blocks] = []
    shapes = sorted(set(zip(sizes.tolist(), widths.tolist(), rows_first.tolist(), strict=True)))
    by_block = np.argsort(block, kind="stable")  # H's entries, block by block
    edges = np.searchsorted(block[by_block], np.arange(begins.size + 1))
    for size, width, first in shapes:  # blocks of one shape are factored together
        which = np.flatnonzero((sizes == size) & (widths == width) & (rows_first == first))
        span: Factors | None = None
        Zt: Factors | None = None
        if first:  # a contrast basis K = Z_i kron Z_j
            chosen = [contrasts[int(term[begins[k]])] for k in which]
            span = (np.stack([f[0] for f in chosen]), np.stack([f[1] for f in chosen]))
            Zt = transposed(span)
        outputs = begins[which][:, None] + np.arange(size)
        inputs = in_begins[which][:, None] + np.arange(width)
        if size > DENSE_BLOCK_MAX:  # a wide pair grid in contrasts: scaled, not factored
            assert span is not None
            assert Zt is not None
            scale = np.empty((which.size, width))
            for i, k in enumerate(which.tolist()):
                entries = by_block[edges[k] : edges[k + 1]]
                scale[i] = contrast_diagonal(
                    H.row[entries] - begins[k],
                    H.col[entries] - begins[k],
                    H.data[entries],
                    (span[0][i], span[1][i]),
                )
            scale += 1e-8 * np.maximum(scale.mean(axis=1, keepdims=True), 1e-12)
            whiten.append(Blocks(outputs, inputs, 1.0 / np.sqrt(scale), left=span, diagonal=True))
            back.append(Blocks(inputs, outputs, np.sqrt(scale), right=Zt, diagonal=True))
            continue
        slot = np.full(begins.size, -1)
        slot[which] = np.arange(which.size)
        dense = np.zeros((which.size, size, size))
        inside = slot[block] >= 0
        b = block[inside]
        dense[slot[b], H.row[inside] - begins[b], H.col[inside] - begins[b]] = H.data[inside]
        if Zt is not None:  # H_K = K^T H K
            left = kron_apply(*Zt, dense)  # K^T H, then K^T (K^T H)^T = K^T H K (H symmetric)
            dense = kron_apply(*Zt, np.ascontiguousarray(left.transpose(0, 2, 1)))
        jitter = 1e-8 * np.maximum(np.trace(dense, axis1=1, axis2=2) / width, 1e-12)
        dense += jitter[:, None, None] * np.eye(width)
        L = np.linalg.cholesky(dense)
        if width == 1:  # single columns (a wide term's): 1 / sqrt(H_ii), no LAPACK call each
            inverse = 1.0 / L
        else:
            inverse = np.empty_like(L)
            for k in range(which.size):
                L_inv, info = lapack.dtrtri(L[k], lower=1)  # a triangular inverse: n^3 / 3
                assert info == 0, "a positive definite block has an invertible factor"
                inverse[k] = L_inv.T
        Lt = np.ascontiguousarray(L.transpose(0, 2, 1))
        # P = K L^-T; back: u = L^T K^T phi (K has orthonormal columns), K kept factored
        whiten.append(Blocks(outputs, inputs, inverse, left=span))
        back.append(Blocks(inputs, outputs, Lt, right=Zt))
    n_in = int(widths.sum())
    return BlockDiagonal(whiten, (p, n_in)), BlockDiagonal(back, (n_in, p))


def contrast_diagonal(
    rows: np.ndarray, columns: np.ndarray, values: np.ndarray, factors: Factors
) -> np.ndarray:
    """The diagonal of ``K^T H_t K`` for one pair term t in contrasts, ``K = Z_i kron
    Z_j``, from the sparse entries of its block of H, without forming K: entry (alpha,
    beta) is ``sum_e v_e Z_i[a_r, alpha] Z_i[a_c, alpha] Z_j[b_r, beta] Z_j[b_c, beta]``
    over the entries e = (r, c, v), cell r = (a_r, b_r) in row-major order.

    Parameters
    ----------
    rows, columns : ndarray of int, shape (nnz,)
        The entries' cells, numbered within the term.
    values : ndarray of shape (nnz,)
    factors : (ndarray of shape (m_i, m_i - 1), ndarray of shape (m_j, m_j - 1))
        Z_i and Z_j.

    Returns
    -------
    ndarray of shape ((m_i - 1) (m_j - 1),)
    """
    first, second = factors
    a_r, b_r = np.divmod(rows, second.shape[0])
    a_c, b_c = np.divmod(columns, second.shape[0])
    weighted = first[a_r] * first[a_c] * values[:, None]
    return np.asarray(weighted.T @ (second[b_r] * second[b_c])).ravel()


class RowBlocks:
    """A CSR matrix cut into ``threads`` blocks of rows whose products run on a thread
    each (scipy's sparse products release the GIL): ``A @ x`` stacks the blocks' products,
    ``A^T g`` sums them. Used as a context: the threads live for the block.

    Parameters
    ----------
    A : csr_matrix of shape (n_rows, p)
    threads : int
        Blocks (and threads), >= 1; one block multiplies on the caller's thread.
    """

    def __init__(self, A: sparse.csr_matrix, threads: int) -> None:
        n = A.shape[0]
        parts = max(1, min(int(threads), n))
        bounds = np.linspace(0, n, parts + 1).astype(np.int64)
        self.bounds = bounds
        self.blocks = [A] if parts == 1 else [A[a:b] for a, b in itertools.pairwise(bounds)]
        self.pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> RowBlocks:
        if len(self.blocks) > 1:
            self.pool = ThreadPoolExecutor(len(self.blocks))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    def _map(self, work: Callable[[int], np.ndarray]) -> list[np.ndarray]:
        if self.pool is None:
            return [work(k) for k in range(len(self.blocks))]
        return list(self.pool.map(work, range(len(self.blocks))))

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        """``A @ x`` for x of shape (p, k): shape (n_rows, k)."""
        parts = self._map(lambda k: self.blocks[k] @ x)
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def rmatmul(self, g: np.ndarray) -> np.ndarray:
        """``A^T @ g`` for g of shape (n_rows, k): shape (p, k)."""
        bounds = self.bounds
        parts = self._map(lambda k: self.blocks[k].T @ g[bounds[k] : bounds[k + 1]])
        return parts[0] if len(parts) == 1 else np.sum(parts, axis=0)


Factors = tuple[np.ndarray, np.ndarray]


def transposed(factors: Factors) -> Factors:
    """The factors of ``(A kron B)^T = A^T kron B^T``, each stack transposed (contiguous)."""
    first, second = factors
    return (
        np.ascontiguousarray(first.transpose(0, 2, 1)),
        np.ascontiguousarray(second.transpose(0, 2, 1)),
    )


@dataclasses.dataclass(frozen=True)
class Blocks:
    """B blocks of one shape of a :class:`BlockDiagonal`: block b is ``left_b @ blocks[b]
    @ right_b`` on rows ``rows[b]`` and columns ``columns[b]``, where ``left`` and
    ``right``, when given, are Kronecker products kept as their factors (stacks of shape
    (B, r1, c1) and (B, r2, c2): ``first_b kron second_b``), applied by
    :func:`kron_apply` without being formed.
    """

    rows: np.ndarray
    columns: np.ndarray
    blocks: np.ndarray
    left: Factors | None = None
    right: Factors | None = None
    diagonal: bool = False  # ``blocks`` holds diagonals, shape (B, w)

    def middle(self, y: np.ndarray, transpose: bool = False) -> np.ndarray:
        """``blocks_b @ y_b`` (or ``blocks_b^T @ y_b``) for y of shape (B, w, k)."""
        if self.diagonal:
            return self.blocks[:, :, None] * y
        return np.matmul(self.blocks.transpose(0, 2, 1) if transpose else self.blocks, y)

    def dense(self) -> np.ndarray:
        """The blocks as dense matrices, shape (B, len(rows[b]), len(columns[b]))."""
        out = self.blocks
        if self.diagonal:
            out = self.blocks[:, :, None] * np.eye(self.blocks.shape[1])
        if self.right is not None:  # M @ right = (right^T @ M^T)^T
            out = kron_apply(*transposed(self.right), np.ascontiguousarray(out.transpose(0, 2, 1)))
            out = out.transpose(0, 2, 1)
        if self.left is not None:
            out = kron_apply(*self.left, np.ascontiguousarray(out))
        return out


class BlockDiagonal:
    """A block-diagonal matrix (blocks may be rectangular) kept as stacks of dense blocks,
    one stack per block shape (products are batched matrix products: no sparse matrix to
    build).

    Parameters
    ----------
    groups : list of Blocks
        Every row and every column belongs to exactly one block.
    shape : (int, int)
        The matrix's shape.
    """

    def __init__(self, groups: list[Blocks], shape: tuple[int, int]) -> None:
        self.groups = groups
        self.shape = shape

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        """``M @ x`` for x of shape (shape[1], k): shape (shape[0], k)."""
        out = np.empty((self.shape[0], *x.shape[1:]))
        for group in self.groups:
            y = x[group.columns]
            if group.right is not None:
                y = kron_apply(*group.right, y)
            y = group.middle(y)
            if group.left is not None:
                y = kron_apply(*group.left, y)
            out[group.rows] = y
        return out

    def rmatmul(self, x: np.ndarray) -> np.ndarray:
        """``M^T @ x`` for x of shape (shape[0], k): shape (shape[1], k)."""
        out = np.empty((self.shape[1], *x.shape[1:]))
        for group in self.groups:
            y = x[group.rows]
            if group.left is not None:
                y = kron_apply(*transposed(group.left), y)
            y = group.middle(y, transpose=True)
            if group.right is not None:
                y = kron_apply(*transposed(group.right), y)
            out[group.columns] = y
        return out

    def toarray(self) -> np.ndarray:
        """The dense matrix."""
        dense = np.zeros(self.shape)
        for group in self.groups:
            dense[group.rows[:, :, None], group.columns[:, None, :]] = group.dense()
        return dense


def feature_groups(names: list[str]) -> list[tuple[str, list[str]]]:
    """Features as an auditor reads them: the one-hot columns of one categorical column
    (names ``"column=value"``, as ``TabularPreprocessor`` makes them; two or more with the
    same ``column``) form one group, every other feature is a group of its own.

    Parameters
    ----------
    names : list of str
        Feature names, in column order.

    Returns
    -------
    list of (str, list of str)
        ``(label, member names)`` in order of first appearance; a group's label is its
        column name, a single feature's its own name.
    """
    prefixes = [name.split("=", 1)[0] if "=" in name else None for name in names]
    counts: dict[str, int] = {}
    for prefix in prefixes:
        if prefix is not None:
            counts[prefix] = counts.get(prefix, 0) + 1
    groups: dict[str, list[str]] = {}
    for name, prefix in zip(names, prefixes, strict=True):
        label = prefix if prefix is not None and counts[prefix] > 1 else name
        groups.setdefault(label, []).append(name)
    return list(groups.items())


def screen_pairs(
    X: np.ndarray,
    residual: np.ndarray,
    knots: list[np.ndarray],
    max_pairs: int,
    bins: int = 16,
) -> list[tuple[int, int]]:
    """FAST (Lou, Caruana, Gehrke and Hooker 2013): rank feature pairs by how much a
    four-quadrant fit of the residual improves on one cut per feature.

    Each feature is cut into at most ``bins`` quantile bins. For a pair (i, j) and every
    cut (a, b), the rows fall into four quadrants q; the gain is
    ``sum_q sum_k S_qk^2 / N_q`` (S: residual sums, N: row counts), the reduction in
    squared error of a constant per quadrant. A pair's score is its best cut's gain; the
    ``max_pairs`` best pairs with a positive score are returned. Cost: one ``bincount``
    of dense products over the rows (n x (d bins)^2), then O(d^2 bins^2) work.

    Parameters
    ----------
    X : ndarray of shape (n_rows, d)
        Rows (standardised).
    residual : ndarray of shape (n_rows, n_out)
        What the main effects leave: the negative gradient of the loss at the
        main-effects model, per row.
    knots : list of ndarray
        Each feature's main knots (bins are cut at a subset of them).
    max_pairs : int
        Pairs to return.
    bins : int
        Most bins per feature.

    Returns
    -------
    list of (int, int)
        Pairs (i < j), best first.
    """
    n, d = X.shape
    codes = np.zeros((n, d), dtype=np.int64)
    n_bins = np.ones(d, dtype=np.int64)
    for j in range(d):
        k = knots[j]
        if k.size < 2:
            continue
        if k.size <= bins:  # one bin per knot (a discrete column: one per value)
            inner = k[1:]
        else:  # bins of about equal numbers of knots (quantiles)
            inner = k[np.round(np.linspace(0, k.size - 1, bins + 1)).astype(int)[1:-1]]
        codes[:, j] = np.searchsorted(inner, X[:, j], side="right")
        n_bins[j] = inner.size + 1
    B = bins
    scores: list[tuple[float, int, int]] = []
    o = residual.shape[1]
    # Every pair's cross-table at once: H one-hot bins (n x sum of bins), counts H^T H and
    # residual sums H^T diag(r_k) H (dense products, one pass over the rows).
    offsets = np.concatenate([[0], np.cumsum(n_bins)])
    width = int(offsets[-1])
    cross_counts = np.zeros((width, width))
    cross_sums = np.zeros((width, width, o))
    step = max(1, SCREEN_CHUNK_ENTRIES // width)  # rows per chunk: H stays small
    for start in range(0, n, step):
        chunk = slice(start, min(start + step, n))
        H = np.zeros((chunk.stop - start, width))
        H[np.arange(H.shape[0])[:, None], offsets[:-1] + codes[chunk]] = 1.0
        cross_counts += H.T @ H
        for out in range(o):
            cross_sums[..., out] += H.T @ (H * residual[chunk, out : out + 1])
    for i in range(d - 1):
        if n_bins[i] < 2:
            continue
        others = np.arange(i + 1, d)
        others = others[n_bins[others] >= 2]
        if others.size == 0:
            continue
        counts = np.zeros((others.size, B, B))
        sums = np.zeros((others.size, B, B, o))
        rows_i = slice(offsets[i], offsets[i + 1])
        for t, other in enumerate(others.tolist()):
            columns = slice(offsets[other], offsets[other + 1])
            counts[t, : n_bins[i], : n_bins[other]] = cross_counts[rows_i, columns]
            sums[t, : n_bins[i], : n_bins[other]] = cross_sums[rows_i, columns]
        cn = counts.cumsum(1).cumsum(2)
        cs = sums.cumsum(1).cumsum(2)
        tn, ts = cn[:, -1:, -1:], cs[:, -1:, -1:]
        rn, rs = cn[:, :, -1:], cs[:, :, -1:]  # rows <= a, all columns
        kn, ks = cn[:, -1:, :], cs[:, -1:, :]  # all rows, columns <= b
        quadrants = [
            (cn, cs),
            (rn - cn, rs - cs),
            (kn - cn, ks - cs),
            (tn - rn - kn + cn, ts - rs - ks + cs),
        ]
        gain = np.zeros(counts.shape)
        for qn, qs in quadrants:
            with np.errstate(divide="ignore", invalid="ignore"):
                part = (qs**2).sum(-1) / qn
            gain += np.where(qn > 0, part, 0.0)
        gain[:, n_bins[i] - 1 :, :] = -np.inf  # a cut must leave rows on both sides
        for t, other in enumerate(others.tolist()):
            gain[t, :, n_bins[other] - 1 :] = -np.inf
        best = gain.reshape(others.size, -1).max(1) - (ts.reshape(-1, o) ** 2).sum(1) / n
        scores += [(float(s), i, int(j)) for s, j in zip(best, others, strict=True)]
    scores.sort(key=lambda item: (-item[0], item[1], item[2]))
    return [(i, j) for score, i, j in scores[:max_pairs] if score > 0]


def row_curvature(logits: torch.Tensor, targets: Targets) -> np.ndarray:
    """Each row's curvature of the distillation objective in its decision values at
    ``logits``, one number per row: the mean diagonal entry of the per-row Hessian,
    ``(1 - w) (1 - sum_k q_k^2) / C + w (1 - sum_k p_k^2) / C`` with ``q = softmax(logits
    / T)``, ``p = softmax(logits)``, C classes and w the hard-label weight (the soft
    term ``T^2 KL`` has Hessian ``diag(q) - q q^T``); for two classes, ``q_1 (1 - q_1)``
    at w = 0, the curvature in the log-odds.

    Parameters
    ----------
    logits : Tensor of shape (n_rows, C)
    targets : Targets
        The temperature and the hard-label weight (with or without each part).

    Returns
    -------
    ndarray of shape (n_rows,)
    """
    C = logits.shape[1]

    def spread(tensor: torch.Tensor) -> np.ndarray:
        proba = torch.softmax(tensor.detach().to(torch.float64), dim=1)
        return ((1.0 - proba.pow(2).sum(1)) / C).numpy()

    soft = targets.teacher_log_proba is not None
    w = 1.0 if not soft else (targets.hard_label_weight if targets.y is not None else 0.0)
    curvature = np.zeros(logits.shape[0])
    if w < 1.0:
        curvature += (1.0 - w) * spread(logits / targets.temperature)
    if w > 0.0:
        curvature += w * spread(logits)
    return np.maximum(curvature, 1e-6)
