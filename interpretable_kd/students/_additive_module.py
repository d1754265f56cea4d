"""The additive student's torch module: a fixed piecewise-linear basis, so the model is
linear in its parameters.

For rows x (standardised, as the network sees them) the module computes

    z_k(x) = b_k + sum_j f_jk(x_j) + sum_{p = (i, j)} g_pk(x_i, x_j)

with f_jk piecewise linear on the knots ``t_j1 < ... < t_jm`` of feature j (hat functions:
``f_jk(x) = (1 - a) theta_jl,k + a theta_j(l+1),k`` where ``t_jl <= x <= t_j(l+1)`` and
``a = (x - t_jl) / (t_j(l+1) - t_jl)``; x is clamped to ``[t_j1, t_jm]``, so a shape is flat
beyond the training range) and g_pk bilinear on a small grid of knots of its two features.
Every term reads rows of one weight table (2 entries per feature, 4 per pair and row):
:meth:`AdditiveModule.design` gives that sparse design, which the solver multiplies as a
sparse matrix.

Everything the module needs to rebuild itself is a buffer (knots, pairs, the pair terms'
means over the training rows, term importances), so ``state_dict`` holds the whole fitted
model and persistence needs nothing else. Knot tables have a fixed width (the
``n_knots`` hyperparameter); a feature with fewer distinct values uses the first
``n_active`` entries, the rest are padding (strictly increasing, never reached).

Also here: :func:`hat_weights` (the basis) and ``purify_and_centre`` (moves what a pair
term shares with its features' main effects into them, then centres every term).
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch
from scipy import sparse

from .._search_hooks import search_cached

__all__ = ["AdditiveModule", "Basis", "hat_weights", "quantile_knots"]

#: Entries of one row chunk of :meth:`AdditiveModule.design`'s dense scratch arrays.
DESIGN_CHUNK_ENTRIES = 1_000_000

#: ``(hats, design)`` of some rows: :meth:`AdditiveModule._hats` and
#: :meth:`AdditiveModule.design`, valid while the module's knots and pairs stay.
Basis = tuple[tuple[torch.Tensor, ...], sparse.csr_matrix]


def quantile_knots(column: np.ndarray, n_knots: int) -> np.ndarray:
    """Knots of one feature: its distinct values when there are at most ``n_knots`` of
    them (exact for binary, one-hot and ordinal columns), else ``n_knots`` quantiles of
    the rows, topped up with quantiles of the distinct values.

    A column with heavy ties (say 90% zeros and a long tail, like a capital gain) has
    few distinct row quantiles; the top-up spends the unused knots evenly over its
    distinct values, so the tail, where a tree teacher splits, still gets knots.

    Parameters
    ----------
    column : ndarray of shape (n_rows,)
        The feature over the training rows.
    n_knots : int
        Most knots.

    Returns
    -------
    ndarray of shape (m,), float64
        Strictly increasing knots, ``1 <= m <= n_knots``; the first is the column's
        minimum and the last its maximum.
    """
    values = np.unique(column).astype(np.float64)
    if values.size <= n_knots:
        return values
    knots = np.unique(np.quantile(column, np.linspace(0.0, 1.0, n_knots)))
    missing = n_knots - knots.size
    if missing > 0:
        spare = np.setdiff1d(values, knots, assume_unique=True)
        if spare.size <= missing:
            extra = spare
        else:
            extra = spare[np.round(np.linspace(0, spare.size - 1, missing)).astype(np.int64)]
        knots = np.union1d(knots, extra)
    return knots.astype(np.float64)


def hat_weights(
    x: torch.Tensor, knots: torch.Tensor, n_active: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Left knot and interpolation weight of each value (the piecewise-linear basis).

    Parameters
    ----------
    x : Tensor of shape (n_rows, m), float64
        Values of m features.
    knots : Tensor of shape (m, K), float64
        Each feature's knots, strictly increasing along a row (padding included).
    n_active : Tensor of shape (m,), int64
        Knots in use per feature (>= 1).

    Returns
    -------
    left : Tensor of shape (n_rows, m), int64
        l with ``t_l <= clamp(x) <= t_(l+1)``, in ``0 .. max(n_active - 2, 0)``.
    frac : Tensor of shape (n_rows, m), float64
        ``a = (clamp(x) - t_l) / (t_(l+1) - t_l)`` in [0, 1]; 0 for a one-knot feature.
        A value is ``(1 - a) theta_l + a theta_(l+1)``.
    """
    low = knots[:, 0]
    high = knots.gather(1, (n_active - 1).unsqueeze(1)).squeeze(1)
    clamped = torch.minimum(torch.maximum(x, low), high)
    position = torch.searchsorted(knots.contiguous(), clamped.T.contiguous(), right=True).T - 1
    left = torch.minimum(position.clamp_min(0), (n_active - 2).clamp_min(0))
    lower = knots.T.gather(0, left)
    upper = knots.T.gather(0, left + 1)
    frac = ((clamped - lower) / (upper - lower)).clamp(0.0, 1.0)
    return left, frac


class AdditiveModule(torch.nn.Module):
    """``z(x) = b + sum_j f_j(x_j) + sum_p g_p(x_i, x_j)`` on a fixed piecewise-linear basis.

    Parameters
    ----------
    n_features : int
        d.
    n_classes : int
        Classes; two classes get one output (the log-odds z of the second class; the
        logits are ``[0, z]``), more get one output per class.
    n_knots : int
        K, the width of the main-effect knot table.
    max_pairs : int
        M, the most pair terms.
    pair_knots : int
        G, the width of a pair term's knot table per axis: an axis whose feature has at
        most G distinct values (fewer than K, so each is a main knot) keeps them all.
    spread_knots : int, optional
        Knots of any other axis (evenly spaced in rank, ends included); default G.

    Attributes (buffers)
    --------------------
    knots : (d, K) float64; n_active : (d,) int64
        Main-effect knots (standardised units) and how many are used.
    pairs : (M, 2) int64; n_pairs : () int64
        The pair terms' features (the first ``n_pairs`` rows are used).
    pair_knots : (M, 2, G) float64; pair_active : (M, 2) int64
        Each pair's knots on its two axes, a subset of the features' main knots.
    pair_means : (M, n_out) float64
        Mean of each pair term over the training rows.
    importance : (d + M,) float64
        Mean |term| over the training rows and outputs (mains, then pairs).
    fitted : () int64
        1 once knots and pairs are set.
    """

    knots: torch.Tensor
    n_active: torch.Tensor
    pairs: torch.Tensor
    n_pairs: torch.Tensor
    pair_knots: torch.Tensor
    pair_active: torch.Tensor
    pair_means: torch.Tensor
    importance: torch.Tensor
    fitted: torch.Tensor

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        n_knots: int,
        max_pairs: int,
        pair_knots: int,
        spread_knots: int | None = None,
    ) -> None:
        super().__init__()
        self.n_features, self.n_classes = n_features, n_classes
        self.n_out = 1 if n_classes == 2 else n_classes
        self.n_knots, self.max_pairs, self.grid = n_knots, max_pairs, pair_knots
        self.spread_knots = pair_knots if spread_knots is None else min(spread_knots, pair_knots)
        d, K, M, G, o = n_features, n_knots, max_pairs, pair_knots, self.n_out
        f64 = torch.float64
        self.register_buffer("knots", torch.arange(K, dtype=f64).repeat(d, 1))
        self.register_buffer("n_active", torch.ones(d, dtype=torch.int64))
        self.register_buffer("pairs", torch.zeros(M, 2, dtype=torch.int64))
        self.register_buffer("n_pairs", torch.zeros((), dtype=torch.int64))
        self.register_buffer("pair_knots", torch.arange(G, dtype=f64).repeat(M, 2, 1))
        self.register_buffer("pair_active", torch.ones(M, 2, dtype=torch.int64))
        self.register_buffer("pair_means", torch.zeros(M, o, dtype=f64))
        self.register_buffer("importance", torch.zeros(d + M, dtype=f64))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.int64))
        self.bias = torch.nn.Parameter(torch.zeros(o, dtype=f64))
        self.main = torch.nn.Parameter(torch.zeros(d * K, o, dtype=f64))
        self.pair = torch.nn.Parameter(torch.zeros(M * G * G, o, dtype=f64))

    # ------------------------------------------------------------------ set-up
    def set_grid(self, pair_knots: int) -> None:
        """Reallocate the pair tables for ``pair_knots`` knots per axis (no pairs set yet:
        called before :meth:`set_pairs`, when the knots show how wide the grid must be).

        Parameters
        ----------
        pair_knots : int
            The new G.
        """
        assert not int(self.n_pairs), "the grid is sized before any pair is set"
        M, G, o = self.max_pairs, int(pair_knots), self.n_out
        device = self.pair.device
        self.grid, self.spread_knots = G, min(self.spread_knots, G)
        self.pair = torch.nn.Parameter(
            torch.zeros(M * G * G, o, dtype=torch.float64, device=device)
        )
        self.pair_knots = torch.arange(G, dtype=torch.float64, device=device).repeat(M, 2, 1)
        self.pair_active = torch.ones(M, 2, dtype=torch.int64, device=device)

    def needed_grid(self, cap: int) -> int:
        """The narrowest G that keeps every pair axis as it would be with G = ``cap``: the
        most knots of a feature that keeps all of them (fewer than K, at most ``cap``),
        at least ``spread_knots`` (knots set)."""
        m = self.n_active.cpu().numpy()
        exact = m[(m < self.n_knots) & (m <= cap)]
        return int(max([self.spread_knots, 2, *exact.tolist()]))

    @staticmethod
    def _padded(knots: list[np.ndarray], width: int) -> torch.Tensor:
        """Knot rows padded to ``width`` with strictly increasing values past the last."""
        table = np.empty((len(knots), width))
        for row, values in enumerate(knots):
            last = values[-1]
            table[row, : values.size] = values
            table[row, values.size :] = last + np.arange(1, width - values.size + 1)
        return torch.as_tensor(table, dtype=torch.float64)

    def set_knots(self, X: np.ndarray) -> None:
        """Main-effect knots from the training rows (standardised).

        Parameters
        ----------
        X : ndarray of shape (n_rows, d)
            The rows the network sees.
        """
        knots = [
            quantile_knots(X[:, j].astype(np.float64), self.n_knots) for j in range(X.shape[1])
        ]
        self.knots.copy_(self._padded(knots, self.n_knots))
        self.n_active.copy_(torch.as_tensor([k.size for k in knots], dtype=torch.int64))

    def set_pairs(self, pairs: list[tuple[int, int]]) -> None:
        """Use these pair terms; an axis gets all of its feature's m knots when they are
        all its distinct values (m < K) and ``m <= G``, else ``spread_knots`` of them
        (evenly spaced in rank, ends included), so a pair's margins are main-effect
        shapes.

        Parameters
        ----------
        pairs : list of (int, int)
            At most ``max_pairs`` feature pairs.
        """
        self.n_pairs.fill_(len(pairs))
        with torch.no_grad():
            self.pair.zero_()
        for p, (i, j) in enumerate(pairs):
            self.pairs[p] = torch.as_tensor([i, j])
            axes = []
            for feature in (i, j):
                m = int(self.n_active[feature])
                # every distinct value is a main knot when the feature has fewer than K
                discrete = m < self.n_knots
                count = m if (discrete and m <= self.grid) else min(m, self.spread_knots)
                chosen = np.unique(np.round(np.linspace(0, m - 1, count)).astype(int))
                axes.append(self.knots[feature, :m].numpy()[chosen])
            self.pair_knots[p] = self._padded(axes, self.grid)
            self.pair_active[p] = torch.as_tensor([a.size for a in axes])

    def free_masks(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Which parameters the solver moves: all but each shape's first knot and each
        pair grid's first row and column (they keep their values, 0 at the start). The
        L-BFGS solver frees every pair grid's cells again and moves them in contrasts
        with zero margins instead (:func:`._additive_solver.pair_contrasts`), which also
        removes the near-degenerate directions anchoring leaves.

        This removes the directions the loss cannot see (a constant added to a shape
        and subtracted from the intercept; an additive function moved between a pair
        and its main effects) without changing what the model can represent, so the
        convex problem has a unique optimum and L-BFGS converges fast.

        Returns
        -------
        main_mask : Tensor of shape (d * K, 1), float64
        pair_mask : Tensor of shape (M * G * G, 1), float64
            1 for a free parameter, 0 for an anchored one.
        """
        d, K, M, G = self.n_features, self.n_knots, self.max_pairs, self.grid
        main = torch.ones(d, K, dtype=torch.float64)
        main[:, 0] = 0.0
        pair = torch.ones(M, G, G, dtype=torch.float64)
        pair[:, 0, :] = 0.0
        pair[:, :, 0] = 0.0
        return main.reshape(-1, 1), pair.reshape(-1, 1)

    # ------------------------------------------------------------------ evaluation
    def _pair_hats(
        self, x: torch.Tensor, left: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """:func:`hat_weights` on both axes of every used pair, from the main effects' left
        knots ``left`` (n_rows, d): a pair axis's knots are a subset of its feature's,
        ends included, so a row's main interval decides its pair interval (a lookup, not
        a second search).

        Returns
        -------
        li, fi, lj, fj : Tensors of shape (n_rows, P)
            Left knot and weight on the first and on the second axis.
        """
        P = int(self.n_pairs)
        # every pair axis of one feature has the same knots: compute each distinct axis
        # (a feature and its axis knots) once, then read it for every pair that uses it
        feature = torch.cat([self.pairs[:P, 0], self.pairs[:P, 1]])
        knots = torch.cat([self.pair_knots[:P, 0], self.pair_knots[:P, 1]])
        active = torch.cat([self.pair_active[:P, 0], self.pair_active[:P, 1]])
        axes = torch.cat([feature.unsqueeze(1).to(knots.dtype), knots], dim=1)
        _, inverse = torch.unique(axes, dim=0, return_inverse=True)
        device = inverse.device
        first = torch.full((int(inverse.max()) + 1,), 2 * P, dtype=torch.int64, device=device)
        first = first.scatter_reduce(0, inverse, torch.arange(2 * P, device=device), reduce="amin")
        feature, knots, active = feature[first], knots[first], active[first]
        main = self.knots[feature]  # (U, K): each axis's feature's main knots
        # main interval l -> the axis interval holding it: the last axis knot <= t_l
        lookup = torch.searchsorted(knots.contiguous(), main.contiguous(), right=True) - 1
        lookup = torch.minimum(lookup.clamp_min(0), (active - 2).clamp_min(0).unsqueeze(1))
        K = main.shape[1]
        offsets = torch.arange(feature.shape[0], device=x.device) * K
        axis_left = lookup.reshape(-1)[left[:, feature] + offsets]  # (n_rows, U)
        low = knots[:, 0]
        high = knots.gather(1, (active - 1).unsqueeze(1)).squeeze(1)
        value = torch.minimum(torch.maximum(x[:, feature], low), high)
        lower = knots.T.gather(0, axis_left)
        upper = knots.T.gather(0, axis_left + 1)
        axis_frac = ((value - lower) / (upper - lower)).clamp(0.0, 1.0)
        on_i, on_j = inverse[:P], inverse[P:]
        return axis_left[:, on_i], axis_frac[:, on_i], axis_left[:, on_j], axis_frac[:, on_j]

    def _hats(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(left, frac, li, fi, lj, fj)``: :func:`hat_weights` of the main effects
        (n_rows, d) and of both axes of the used pairs (n_rows, P), for rows x (float64)."""
        left, frac = hat_weights(x, self.knots, self.n_active)
        if not int(self.n_pairs):
            empty = x.new_zeros((x.shape[0], 0))
            return left, frac, empty.long(), empty, empty.long(), empty
        return (left, frac, *self._pair_hats(x, left))

    def basis(self, X: torch.Tensor) -> Basis:
        """``(hats, design)`` of rows X: :meth:`_hats` and :meth:`design`, which stay valid
        until the knots or the pairs change (the solver, ``purify_and_centre`` and
        prediction share them; inside :func:`~interpretable_kd._search_hooks.search_cache`
        the candidates of one temperature search share them too)."""
        x = X.detach().cpu().to(torch.float64)
        key = (self.fingerprint(), "basis")
        return search_cached(key, x.numpy(), lambda: self._basis(x))

    def _basis(self, x: torch.Tensor) -> Basis:
        hats = self._hats(x)
        return hats, self.design(x, hats)

    def fingerprint(self) -> bytes:
        """A digest of what the basis depends on (knots, pairs and their grids)."""
        digest = hashlib.blake2b(digest_size=16)
        for tensor in (
            self.knots,
            self.n_active,
            self.pairs,
            self.n_pairs,
            self.pair_knots,
            self.pair_active,
        ):
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        digest.update(np.asarray([self.grid, self.n_knots, self.max_pairs]).tobytes())
        return digest.digest()

    def design(
        self, X: torch.Tensor, hats: tuple[torch.Tensor, ...] | None = None
    ) -> sparse.csr_matrix:
        """The sparse design D: which entries of the weight table each row reads, with
        which weights (2 per feature and row, 4 per pair; those of weight 0, as on a
        one-hot or binary column where every value is a knot, left out).

        Built row by row in table order, so it is a canonical CSR matrix (sorted column
        indices, no duplicates) with no sorting pass.

        Parameters
        ----------
        X : Tensor of shape (n_rows, d)
            Standardised rows.
        hats : tuple of Tensors, optional
            :meth:`_hats` of these rows, when already computed.

        Returns
        -------
        scipy.sparse.csr_matrix of shape (n_rows, d K + M G^2), float64
            ``z = bias + D @ table``, ``table`` the main and pair weights stacked.
        """
        x = X.detach().cpu().to(torch.float64)
        n = x.shape[0]
        d, K, G = self.n_features, self.n_knots, self.grid
        left, frac, li, fi, lj, fj = (
            t.detach().cpu().numpy() for t in (hats if hats is not None else self._hats(x))
        )
        P = int(self.n_pairs)
        main_base, pair_base = np.arange(d) * K, d * K + np.arange(P) * G * G
        width = 2 * d + 4 * P
        size = self.main.shape[0] + self.pair.shape[0]
        # int32 indices (scipy's own choice for them: no copy to convert) unless too many
        kind = np.int32 if n * width < np.iinfo(np.int32).max else np.int64
        data, indices, counts = [], [], []
        step = max(1, DESIGN_CHUNK_ENTRIES // max(width, 1))  # rows per chunk: cache-sized
        for r in range(0, n, step):
            rows = slice(r, min(r + step, n))
            start, a = left[rows] + main_base, frac[rows]
            # per row: feature 0's two knots, feature 1's, ..., then each pair's four
            # corners in table order (cell, cell + 1, cell + G, cell + G + 1): sorted
            index = np.empty((start.shape[0], width), dtype=kind)
            weight = np.empty((start.shape[0], width))
            index[:, 0 : 2 * d : 2], index[:, 1 : 2 * d : 2] = start, start + 1
            weight[:, 0 : 2 * d : 2], weight[:, 1 : 2 * d : 2] = 1.0 - a, a
            if P:
                cell = pair_base + li[rows] * G + lj[rows]
                u, v = fi[rows], fj[rows]
                for corner, (shift, value) in enumerate(
                    ((0, (1 - u) * (1 - v)), (1, (1 - u) * v), (G, u * (1 - v)), (G + 1, u * v))
                ):
                    index[:, 2 * d + corner :: 4] = cell + shift
                    weight[:, 2 * d + corner :: 4] = value
            keep = weight != 0.0
            data.append(weight[keep])
            indices.append(index[keep])
            counts.append(keep.sum(1))
        indptr = np.zeros(n + 1, dtype=kind)
        if n:
            np.cumsum(np.concatenate(counts), out=indptr[1:])
        matrix = sparse.csr_matrix(
            (
                np.concatenate(data) if data else np.zeros(0),
                np.concatenate(indices) if indices else np.zeros(0, kind),
                indptr,
            ),
            shape=(n, size),
            copy=False,
        )
        matrix.has_sorted_indices = True
        matrix.has_canonical_format = True
        return matrix

    def table_array(self) -> np.ndarray:
        """The main and pair weights stacked, a detached CPU copy: shape
        (d K + M G^2, n_out), the rows the design's columns index."""
        return torch.cat([self.main, self.pair]).detach().cpu().numpy()

    def to_logits(self, z: torch.Tensor) -> torch.Tensor:
        """Logits (n_rows, n_classes): ``[0, z]`` for two classes, else z."""
        if self.n_out == 1:
            return torch.cat([torch.zeros_like(z), z], dim=1)
        return z

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """Logits of shape (n_rows, n_classes), float64: ``to_logits(bias + sum of every
        term)``: a sparse product with the weight table, differentiable in the weights
        when gradients are on (the mini-batch solver), else one scipy product."""
        _, D = self.basis(X)
        table = torch.cat([self.main, self.pair])
        if torch.is_grad_enabled() and table.requires_grad:
            row = torch.from_numpy(np.repeat(np.arange(D.shape[0]), np.diff(D.indptr)))
            index = torch.from_numpy(D.indices.astype(np.int64))
            weight = torch.from_numpy(D.data)
            z = torch.zeros(X.shape[0], self.n_out, dtype=table.dtype, device=table.device)
            z.index_add_(
                0,
                row.to(table.device),
                weight.to(table.device).unsqueeze(1) * table[index.to(table.device)],
            )
        else:
            z = torch.from_numpy(D @ self.table_array()).to(table.device)
        return self.to_logits(self.bias + z)

    def terms(
        self, X: torch.Tensor, hats: tuple[torch.Tensor, ...] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Every term's value at each row.

        Parameters
        ----------
        X : Tensor of shape (n_rows, d)
            Standardised rows.
        hats : tuple of Tensors, optional
            :meth:`_hats` of these rows, when already computed.

        Returns
        -------
        mains : Tensor of shape (n_rows, d, n_out)
            ``f_j(x_j)``.
        pairs : Tensor of shape (n_rows, P, n_out)
            ``g_p(x_i, x_j)`` of the used pairs.
        """
        x = X.to(torch.float64)
        d, K, G, o = self.n_features, self.n_knots, self.grid, self.n_out
        left, frac, li, fi, lj, fj = hats if hats is not None else self._hats(x)
        table = self.main.view(d, K, o)
        features = torch.arange(d, device=x.device)
        mains = (1 - frac).unsqueeze(2) * table[features, left] + frac.unsqueeze(2) * table[
            features, left + 1
        ]
        P = int(self.n_pairs)
        if not P:
            return mains, x.new_zeros((x.shape[0], 0, o))
        grid = self.pair.view(self.max_pairs, G, G, o)
        p = torch.arange(P, device=x.device)
        fi, fj = fi.unsqueeze(2), fj.unsqueeze(2)
        values = (
            (1 - fi) * (1 - fj) * grid[p, li, lj]
            + fi * (1 - fj) * grid[p, li + 1, lj]
            + (1 - fi) * fj * grid[p, li, lj + 1]
            + fi * fj * grid[p, li + 1, lj + 1]
        )
        return mains, values

    def penalty(self, smoothness: float, ridge: float) -> torch.Tensor:
        """``smoothness * (sum of squared second differences of every shape along its
        knots, and of every pair grid along both axes) + ridge * ||theta||^2``.

        Parameters
        ----------
        smoothness, ridge : float
            Weights, >= 0.

        Returns
        -------
        Tensor
            Scalar.
        """
        d, K, G, o = self.n_features, self.n_knots, self.grid, self.n_out
        total = ridge * (self.main.pow(2).sum() + self.pair.pow(2).sum())
        if smoothness == 0:
            return total
        table = self.main.view(d, K, o)
        if K >= 3:
            second = table[:, 2:] - 2 * table[:, 1:-1] + table[:, :-2]
            ok = torch.arange(K - 2, device=table.device) + 2 < self.n_active.unsqueeze(1)
            total = total + smoothness * (second.pow(2).sum(2) * ok).sum()
        P = int(self.n_pairs)
        if P and G >= 3:
            grid = self.pair.view(self.max_pairs, G, G, o)[:P]
            steps = torch.arange(G - 2, device=grid.device) + 2
            ok_i = (steps < self.pair_active[:P, 0:1]).to(grid.dtype)  # (P, G - 2)
            ok_j = (steps < self.pair_active[:P, 1:2]).to(grid.dtype)
            along_i = (grid[:, 2:] - 2 * grid[:, 1:-1] + grid[:, :-2]).pow(2).sum(3)
            along_j = (grid[:, :, 2:] - 2 * grid[:, :, 1:-1] + grid[:, :, :-2]).pow(2).sum(3)
            total = total + smoothness * (
                (along_i * ok_i.unsqueeze(2)).sum() + (along_j * ok_j.unsqueeze(1)).sum()
            )
        return total

    def penalty_matrix(self, smoothness: float, ridge: float) -> sparse.csr_matrix:
        """R with ``penalty = sum_k theta[:, k]^T R theta[:, k]`` (theta: the main and pair
        weights stacked, one column per output), the same number as :meth:`penalty`.

        Parameters
        ----------
        smoothness, ridge : float
            Weights, >= 0.

        Returns
        -------
        scipy.sparse.csr_matrix of shape (d K + M G^2, d K + M G^2)
            ``smoothness * D^T D + ridge * I``, D the second-difference rows.
        """
        d, K, G = self.n_features, self.n_knots, self.grid
        size = d * K + self.max_pairs * G * G
        starts: list[np.ndarray] = []
        steps: list[int] = []
        for j in range(d):
            m = int(self.n_active[j])
            if m >= 3:
                starts.append(j * K + np.arange(m - 2))
                steps.append(1)
        for p in range(int(self.n_pairs)):
            mi, mj = (int(v) for v in self.pair_active[p])
            base = d * K + p * G * G
            a, b = np.meshgrid(np.arange(mi), np.arange(mj), indexing="ij")
            cells = base + a * G + b
            if mj >= 3:
                starts.append(cells[:, : mj - 2].ravel())
                steps.append(1)
            if mi >= 3:
                starts.append(cells[: mi - 2, :].ravel())
                steps.append(G)
        rows, cols, vals = [], [], []
        count = 0
        for first, step in zip(starts, steps, strict=True):
            r = count + np.arange(first.size)
            for offset, value in ((0, 1.0), (step, -2.0), (2 * step, 1.0)):
                rows.append(r)
                cols.append(first + offset)
                vals.append(np.full(first.size, value))
            count += first.size
        D = sparse.csr_matrix(
            (
                np.concatenate(vals or [np.zeros(0)]),
                (
                    np.concatenate(rows or [np.zeros(0, int)]),
                    np.concatenate(cols or [np.zeros(0, int)]),
                ),
            ),
            shape=(count, size),
        )
        return (smoothness * (D.T @ D) + ridge * sparse.identity(size)).tocsr()

    # ------------------------------------------------------------------ identifiability
    def _pair_basis_means(
        self, x: torch.Tensor, hats: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean over the rows of each hat function of every used pair's two axes.

        Parameters
        ----------
        x : Tensor of shape (n_rows, d), float64
            Standardised rows.
        hats : tuple of Tensors
            Their :meth:`_hats`.

        Returns
        -------
        tuple of two Tensors of shape (P, G)
            Per pair and axis, the mean of each hat function on that axis's knots (0 past
            the active ones).
        """
        P, G = int(self.n_pairs), self.grid
        out = []
        for axis in (0, 1):
            left, frac = hats[2 + 2 * axis], hats[3 + 2 * axis]
            flat = left + torch.arange(P, device=x.device) * G
            mean = torch.zeros(P * G, dtype=torch.float64, device=x.device)
            mean.index_add_(0, flat.reshape(-1), (1 - frac).reshape(-1))
            mean.index_add_(0, (flat + 1).reshape(-1), frac.reshape(-1))
            out.append(mean.view(P, G) / x.shape[0])
        return out[0], out[1]

    def _add_to_main(self, feature: int, at: torch.Tensor, values: torch.Tensor) -> None:
        """Add the piecewise-linear function with ``values`` (m, n_out) at knots ``at`` (a
        subset of the feature's main knots, ends included) to its main effect: exact."""
        n = int(self.n_active[feature])
        table = self.main.view(self.n_features, self.n_knots, self.n_out)
        knots = self.knots[feature, :n].cpu().numpy()
        source = at.cpu().numpy()
        moved = np.stack(
            [np.interp(knots, source, values[:, k].cpu().numpy()) for k in range(self.n_out)], 1
        )
        table[feature, :n] += torch.as_tensor(moved, device=table.device)

    def _importance(self, design: sparse.csr_matrix) -> np.ndarray:
        """Mean |term| over the rows of ``design`` and the outputs, per term (mains, then
        pairs; a pair measured from its mean ``pair_means``), shape (d + M,).

        A row reads every term through consecutive entries of its design row (at least
        one: a term's weights sum to 1), so each term's value at each row is a segmented
        sum of ``weight * table[index]``; the rows are taken in chunks.
        """
        d, K, G = self.n_features, self.n_knots, self.grid
        table = self.table_array()
        shift = np.zeros((d + self.max_pairs, self.n_out))
        shift[d:] = self.pair_means.detach().cpu().numpy()
        columns = np.arange(table.shape[0])
        term_of = np.where(columns < d * K, columns // K, d + (columns - d * K) // (G * G))
        total = np.zeros(d + self.max_pairs)
        n = design.shape[0]
        step = max(1, DESIGN_CHUNK_ENTRIES // max(1, design.nnz // max(n, 1)))
        for r in range(0, n, step):
            chunk = design[r : r + step]
            term = term_of[chunk.indices]
            row = np.repeat(np.arange(chunk.shape[0]), np.diff(chunk.indptr))
            new = np.ones(term.size, dtype=bool)
            new[1:] = (row[1:] != row[:-1]) | (term[1:] != term[:-1])
            starts = np.flatnonzero(new)
            if not starts.size:
                continue
            values = np.add.reduceat(chunk.data[:, None] * table[chunk.indices], starts, axis=0)
            owner = term[starts]
            total += np.bincount(owner, np.abs(values - shift[owner]).sum(1), minlength=total.size)
        return total / max(n * self.n_out, 1)

    @torch.no_grad()
    def purify_and_centre(self, X: torch.Tensor, basis: Basis | None = None) -> None:
        """Make the decomposition unique on the training rows X.

        Each pair grid is made doubly centred against the rows' marginals (the mean of
        g_p(x_i, X_j) over the rows is 0 for every x_i, and likewise in x_j); what is
        removed is a piecewise-linear function of one feature on a subset of its main
        knots, added to that main effect exactly. Then each main effect is centred
        (mean 0 over the rows) and the intercept takes the means. Predictions do not
        change. ``pair_means`` (the pairs' joint means over the rows, not 0 in general)
        and ``importance`` are recorded.

        Parameters
        ----------
        X : Tensor of shape (n_rows, d)
            The standardised training rows.
        basis : Basis, optional
            :meth:`basis` of X (the solver's), when already computed.
        """
        x = X.to(torch.float64)
        d, K, G, o = self.n_features, self.n_knots, self.grid, self.n_out
        table = self.main.view(d, K, o)
        grid = self.pair.view(self.max_pairs, G, G, o)
        hats, design = basis if basis is not None else self.basis(x)  # knots, pairs stay
        means = self._pair_basis_means(x, hats)
        for p in range(int(self.n_pairs)):
            i, j = int(self.pairs[p, 0]), int(self.pairs[p, 1])
            mi, mj = int(self.pair_active[p, 0]), int(self.pair_active[p, 1])
            u, w = means[0][p, :mi], means[1][p, :mj]
            block = grid[p, :mi, :mj]  # a view: edited in place
            rows = torch.einsum("abk,b->ak", block, w)  # a function of x_i
            block -= rows.unsqueeze(1)
            columns = torch.einsum("abk,a->bk", block, u)  # a function of x_j
            block -= columns.unsqueeze(0)
            self._add_to_main(i, self.pair_knots[p, 0, :mi], rows)
            self._add_to_main(j, self.pair_knots[p, 1, :mj], columns)
        # each term's mean over the rows, from the mean of each basis column (linear)
        column_mean = torch.from_numpy(np.asarray(design.mean(axis=0)).ravel()).to(x.device)
        P = int(self.n_pairs)
        cut = self.main.shape[0]
        mean = (column_mean[:cut].view(d, K, 1) * table).sum(1)  # (d, o)
        pair_cells = column_mean[cut:].view(self.max_pairs, G * G, 1)
        pair_mean = (pair_cells * self.pair.view(self.max_pairs, G * G, o)).sum(1)
        for j in range(d):
            table[j, : int(self.n_active[j])] -= mean[j]
        self.bias.add_(mean.sum(0))
        self.pair_means.zero_()
        self.pair_means[:P] = pair_mean[:P]
        self.importance.copy_(torch.from_numpy(self._importance(design)))
        self.fitted.fill_(1)
