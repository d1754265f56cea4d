"""The additive student (GA2M): one shape function per feature plus a few pair terms.

    logit_k(x) = b_k + sum_j f_jk(x_j) + sum_{(i, j) in S} f_ijk(x_i, x_j)

Shape functions are piecewise linear on quantile knots of the training rows and pair
terms bilinear on a small grid (:mod:`._additive_module`): a fixed basis, so the model is
linear in its parameters and the distillation objective (:mod:`interpretable_kd.losses`)
plus a smoothness penalty is convex. It is solved on all rows at once by L-BFGS (scipy's
L-BFGS-B, the loss gradient from torch) in variables that whiten each term's own block
of the Hessian (:func:`._additive_solver.block_whitening`: adjacent hat functions and
grid cells are strongly correlated, which made plain L-BFGS crawl), each pair grid in
contrasts with zero margins (:func:`._additive_solver.pair_contrasts`: a grid's row and
column sums are functions of one feature, which the main effects and the other pairs on
that feature also hold), twice: main effects
first, then, after a FAST-style screen of the pairs on what the main effects leave, main
effects and the chosen pairs together; the whitening weighs each row by the loss's
curvature at the stage's start (:func:`._additive_solver.row_curvature`). With
``temperature="auto"`` the candidates at other temperatures continue from the T = 1
candidate (same knots and pairs), and all of them share one design of their training rows
and one of the validation rows (``search_cache``); the final fit on every row starts
afresh, with its own
knots and screen (starting it from the chosen candidate, fitted on at most 4,000 rows,
stalled 1.2 points of fidelity lower on 21,000 x 30 rows: measured, dropped).
Beyond ``FULL_BATCH_CELLS`` basis entries the shared mini-batch Adam loop is used
instead. Afterwards each term is made identifiable on the training rows: pair terms
doubly centred (purified into the main effects), main effects centred, the intercept
carrying the means.

Why this family (measured in ``benchmarks/additive.py``): the fixed basis gives EBM-level
fidelity with one convex solve (seconds on 100k rows), where per-feature networks (Neural
Additive Models) need many epochs of mini-batch training and are not exactly solvable.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from .._defaults import (
    ADDITIVE_MAX_KNOTS,
    ADDITIVE_MIN_KNOTS,
    ADDITIVE_MIN_PAIRS,
    ADDITIVE_PAIR_CELL_ROWS,
    ADDITIVE_PAIR_EXACT_VALUES,
    ADDITIVE_PAIR_MIN_KNOTS,
    ADDITIVE_PAIR_QUANTILE_KNOTS,
    ADDITIVE_PAIRS_PER_FEATURE,
    ADDITIVE_PARALLEL_MIN_ENTRIES,
    ADDITIVE_ROWS_PER_PAIR,
    BATCH_SIZE,
    MAX_EPOCHS,
    N_ITER_NO_CHANGE,
)
from .._torch_utils import Targets, resolve_threads
from .._training import TorchClassifier
from .._validation import check_auto_int, check_choice, check_number
from ..losses import kd_loss_from_log_targets
from ._additive_module import AdditiveModule, Basis
from ._additive_readable import AdditiveReadable
from ._additive_solver import feature_groups, lbfgs_solve, screen_pairs

__all__ = [
    "FULL_BATCH_CELLS",
    "AdditiveClassifier",
    "auto_sizes",
    "feature_groups",
    "pair_spread_knots",
]

#: Above this many basis entries (rows x (2 features + 4 pairs)) the mini-batch loop is
#: used instead of full-batch L-BFGS (about 16 bytes each: ~1 GB).
FULL_BATCH_CELLS = 60_000_000
#: Rows the interaction screen looks at, at most (a seeded sample).
SCREEN_ROWS = 20_000


def auto_sizes(
    n_rows: int, n_features: int, n_knots: Any, max_interactions: Any
) -> tuple[int, int]:
    """The knot-table width and the most pair terms of a fit (``"auto"`` resolved).

    With n rows and d features (columns):

    - knots ``K = clip(round(sqrt(n)), ADDITIVE_MIN_KNOTS, ADDITIVE_MAX_KNOTS)``: a tree
      teacher's steps need knots near them, and more rows support more;
    - pairs ``P = max(ADDITIVE_MIN_PAIRS, min(ADDITIVE_PAIRS_PER_FEATURE * d, n //
      ADDITIVE_ROWS_PER_PAIR))``: EBM's default of 3 per feature where there are about 64
      rows per pair term, fewer (down to the floor) on small data; capped by the
      d (d - 1) / 2 pairs there are when the network is built.

    Parameters
    ----------
    n_rows : int
        Training rows n.
    n_features : int
        Features d.
    n_knots, max_interactions : int or "auto"
        The hyperparameters (an int is kept).

    Returns
    -------
    (int, int)
        K and P.
    """
    n = max(int(n_rows), 1)
    if n_knots == "auto":
        knots = int(np.clip(round(np.sqrt(n)), ADDITIVE_MIN_KNOTS, ADDITIVE_MAX_KNOTS))
    else:
        knots = int(n_knots)
    if max_interactions == "auto":
        by_rows = min(ADDITIVE_PAIRS_PER_FEATURE * int(n_features), n // ADDITIVE_ROWS_PER_PAIR)
        pairs = max(ADDITIVE_MIN_PAIRS, by_rows)
    else:
        pairs = int(max_interactions)
    return knots, pairs


def pair_spread_knots(n_rows: int) -> int:
    """Knots of a pair axis spread evenly in rank (``interaction_knots="auto"``, an axis
    that does not keep a discrete column's values): about ``ADDITIVE_PAIR_CELL_ROWS``
    rows per cell of a square grid, ``clip(round(sqrt(n / ADDITIVE_PAIR_CELL_ROWS)),
    ADDITIVE_PAIR_MIN_KNOTS, ADDITIVE_PAIR_QUANTILE_KNOTS)`` for n training rows.

    Parameters
    ----------
    n_rows : int
        Training rows n.

    Returns
    -------
    int
    """
    wanted = round(np.sqrt(max(int(n_rows), 0) / ADDITIVE_PAIR_CELL_ROWS))
    return int(np.clip(wanted, ADDITIVE_PAIR_MIN_KNOTS, ADDITIVE_PAIR_QUANTILE_KNOTS))


class AdditiveClassifier(AdditiveReadable, TorchClassifier):
    """An additive model with pairwise interactions (GA2M), as a distillation student.

    ``logit_k(x) = b_k + sum_j f_jk(x_j) + sum_{(i,j) in S} f_ijk(x_i, x_j)``; two classes
    have one output, the log-odds of ``classes_[1]`` (logits ``[0, z]``).

    Parameters
    ----------
    n_knots : int or "auto"
        Most knots per shape function (quantiles of the training rows, topped up with
        quantiles of the distinct values for a column with heavy ties; a column with
        fewer distinct values gets one knot per value, so a binary column has one
        coefficient after centring), >= 2. "auto": ``clip(round(sqrt(n)),
        ADDITIVE_MIN_KNOTS, ADDITIVE_MAX_KNOTS)`` for n training rows (32 to 128).
    max_interactions : int or "auto"
        Most pair terms, chosen by a FAST-style screen (Lou et al. 2013) of the residual
        of the main-effects model; 0 gives a pure additive model (GAM). "auto":
        ``min(d (d - 1) / 2, max(ADDITIVE_MIN_PAIRS, min(3 d, n //
        ADDITIVE_ROWS_PER_PAIR)))`` for n rows and d columns: EBM's default of 3 per
        feature (on the same one-hot columns), with about 64 rows per pair term.
        Counting a one-hot group once instead was measured and dropped: on COMPAS
        (18 columns, 27 pairs instead of 54) fidelity fell 0.004-0.006.
    interaction_knots : int or "auto"
        Knots per axis of a pair term's grid (a subset of the features' knots), >= 2:
        an int gives every axis up to that many, evenly spaced in rank. "auto": an axis
        whose feature has at most ``ADDITIVE_PAIR_EXACT_VALUES`` (64) distinct values,
        and fewer than the main effect's knot-table width (so each is a main knot), keeps
        them all (a discrete column's steps exactly: ages, counts, pixel levels); any
        other gets ``clip(round(sqrt(n / 4)), 4, 16)`` for n training rows, spread evenly
        in rank (:func:`pair_spread_knots`: about 4 rows per grid cell, 16 from 1,024
        rows on). The grids are as wide as the widest such axis (``interaction_knots_``).
    smoothness : float
        Weight of the squared second differences of every shape (and pair grid) along
        its knots, in units of one row's loss: the penalty added to the mean loss over
        n rows is ``smoothness / n`` times the sum of squares, so it counts for less as
        rows accumulate (a prior worth ``smoothness`` rows), >= 0.
    ridge : float
        Weight of the squared parameters, in the same units (makes the problem strictly
        convex), >= 0.
    solver : {"auto", "lbfgs", "adam"}
        "lbfgs": full-batch L-BFGS on the convex objective (exact); "adam": the shared
        mini-batch loop (memory bounded by ``batch_size``); "auto": L-BFGS when the
        basis fits ``FULL_BATCH_CELLS`` entries.
    max_iter : int
        Most L-BFGS iterations of the joint stage (the main-effects stage that feeds
        the screen gets a quarter; a fit that continues a fitted model, as the search's
        candidates at other temperatures do, half).
    tol : float
        L-BFGS stops when the largest gradient entry falls below ``tol`` times the
        largest entry at the start, or the loss changes by less than ``tol * 1e-6`` of
        its starting value (the Adam loop uses ``tol`` as its early-stopping
        tolerance).
    max_epochs, batch_size, learning_rate, weight_decay, early_stopping, \
validation_fraction, n_iter_no_change, random_state, verbose, device, n_jobs
        The shared training loop's settings (``TorchClassifier``); only the "adam"
        solver uses the epoch, batch and learning-rate settings. ``n_jobs`` also sets
        the threads of the L-BFGS solver's sparse products, each on a block of rows
        (None: every core once the design holds ``ADDITIVE_PARALLEL_MIN_ENTRIES``
        entries, 2 million; one below), and how many of ``temperature="auto"``'s
        candidates fit at once (None: every core).

    Attributes
    ----------
    interactions_ : list of (str, str)
        The pair terms' feature names.
    term_importances_ : DataFrame
        ``term`` (a feature name or ``"a x b"``), ``importance`` (mean |term| over the
        training rows and outputs), ``kind`` ("main" or "pair"); largest first.
    intercept_ : ndarray of shape (n_out,)
        b, with each term centred on the training rows.
    base_values_ : ndarray of shape (n_out,)
        Mean decision value over the training rows: ``intercept_`` plus the pairs'
        joint means. ``explain(X).sum(1) + base_values_[t]`` is the decision value.
    solver_ : str
        The solver used.
    n_knots_, max_interactions_ : int
        The knot-table width and the most pair terms allowed (``"auto"`` resolved).
    interaction_knots_ : int
        The pair grids' width per axis (``"auto"``: the most values of a discrete column
        a pair axis keeps whole, at least the spread knots of :func:`pair_spread_knots`).
    """

    def __init__(
        self,
        *,
        n_knots: Any = "auto",
        max_interactions: Any = "auto",
        interaction_knots: Any = "auto",
        smoothness: float = 1.0,
        ridge: float = 1e-6,
        solver: str = "auto",
        max_iter: int = 100,
        tol: float = 1e-3,
        max_epochs: Any = MAX_EPOCHS,
        batch_size: Any = BATCH_SIZE,
        learning_rate: float = 0.01,
        weight_decay: float = 0.0,
        early_stopping: bool = True,
        validation_fraction: float = 0.1,
        n_iter_no_change: Any = N_ITER_NO_CHANGE,
        random_state: Any = None,
        verbose: bool = False,
        device: str = "cpu",
        n_jobs: int | None = None,
    ) -> None:
        self.n_knots = n_knots
        self.max_interactions = max_interactions
        self.interaction_knots = interaction_knots
        self.smoothness = smoothness
        self.ridge = ridge
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.n_jobs = n_jobs

    # ---------------------------------------------------------------- the shared hooks
    def _check_params(self) -> None:
        owner = type(self).__name__
        check_auto_int(self.n_knots, "n_knots", owner, low=2)
        check_auto_int(self.max_interactions, "max_interactions", owner, low=0)
        check_auto_int(self.interaction_knots, "interaction_knots", owner, low=2)
        check_number(self.smoothness, "smoothness", owner, low=0.0)
        check_number(self.ridge, "ridge", owner, low=0.0)
        check_choice(self.solver, "solver", owner, ["auto", "lbfgs", "adam"])
        check_number(self.max_iter, "max_iter", owner, integer=True, low=1)

    #: The basis (knots, pair terms) is placed on all training rows at once: no streaming.
    _fits_on_all_rows = True

    def _prepare_fit(self, n_rows: int, n_classes: int) -> None:
        """Resolve ``"auto"`` knots and pair terms from the row and feature counts (a
        warm-started fit keeps the network's)."""
        if "n_knots_" in self.__dict__ and "max_interactions_" in self.__dict__:
            return
        knots, pairs = auto_sizes(
            n_rows, int(self.n_features_in_), self.n_knots, self.max_interactions
        )
        self.n_knots_, self.max_interactions_ = knots, pairs
        self._spread_knots = pair_spread_knots(n_rows)

    def _build_module(self, n_features: int, n_classes: int) -> torch.nn.Module:
        wanted = self.__dict__.get("max_interactions_", self.max_interactions)
        knots = self.__dict__.get("n_knots_", self.n_knots)
        pairs = min(int(wanted), n_features * (n_features - 1) // 2)
        if self.interaction_knots == "auto":
            # at most the exact-values cap; a fitted (or loaded) model's own width
            grid = self.__dict__.get("interaction_knots_", ADDITIVE_PAIR_EXACT_VALUES)
            spread = self.__dict__.get("_spread_knots", ADDITIVE_PAIR_QUANTILE_KNOTS)
        else:
            grid = spread = int(self.interaction_knots)
        return AdditiveModule(n_features, n_classes, int(knots), pairs, int(grid), spread)

    def _penalty(self, module: torch.nn.Module) -> torch.Tensor | float:
        assert isinstance(module, AdditiveModule)
        n = getattr(self, "_n_rows", 1)
        smoothness = getattr(self, "_fit_smoothness", float(self.smoothness))
        return module.penalty(smoothness / n, float(self.ridge) / n)

    def _run_epochs(
        self,
        module: torch.nn.Module,
        X: Any,
        targets: Targets,
        seed: int,
        max_epochs: int,
        device: torch.device,
    ) -> tuple[list[dict[str, float]], int]:
        """Fit: knots, main effects, pair screen, all terms, then purify and centre.

        A module that is already fitted (``fine_tune``) keeps its knots and pairs and is
        refitted from its current parameters.

        Parameters
        ----------
        module : AdditiveModule
            The network, built by ``_build_module``.
        X : ndarray of shape (n_rows, d)
            The rows as the network sees them (standardised).
        targets : Targets
            Labels and/or the softened teacher.
        seed : int
            Seeds the screen's row sample and the Adam loop.
        max_epochs : int
            The Adam loop's epoch budget.
        device : torch.device
            Where to compute.

        Returns
        -------
        history : list of dict
            One entry per L-BFGS evaluation (or per epoch), ``train_loss``.
        best_epoch : int
            Entries recorded.
        """
        assert isinstance(module, AdditiveModule)
        X_np = np.asarray(X.cpu() if isinstance(X, torch.Tensor) else X)
        X_t = torch.as_tensor(X_np).to(device)
        n, d = X_np.shape
        self._n_rows = n
        self._fit_smoothness = self._smoothness(targets)
        solver = self.solver
        if solver == "auto":
            cells = n * (2 * d + 4 * module.max_pairs)
            solver = "lbfgs" if cells <= FULL_BATCH_CELLS else "adam"
        self.solver_ = solver
        history: list[dict[str, float]] = []
        warm = bool(int(module.fitted))
        if not warm:
            module.set_knots(X_np)
            if self.interaction_knots == "auto":  # as wide as these columns need
                module.set_grid(module.needed_grid(ADDITIVE_PAIR_EXACT_VALUES))
            module.to(device)
        self.interaction_knots_ = module.grid
        stages = 1 if warm else 2
        for stage in range(stages):
            # the main-effects stage only feeds the screen: a quarter of the iterations; a
            # warm start (a fitted model: another temperature's, same rows) is nearby: half,
            # all of them (no gradient stop), so that candidates at every T get the same budget
            iterations = None
            if stages == 2 and stage == 0:
                iterations = int(self.max_iter) // 4
            elif warm:
                iterations = int(self.max_iter) // 2
            # the basis of the current knots and pairs, shared by the solve and purify
            basis = module.basis(X_t.cpu()) if solver == "lbfgs" else None
            history += self._solve(
                module,
                X_t,
                X_np,
                targets,
                seed,
                max_epochs,
                device,
                solver,
                iterations,
                warm,
                basis,
            )
            if stage == 0 and stages == 2 and module.max_pairs > 0:
                pairs = self._screen(module, X_t, X_np, targets, seed, basis)
                if not pairs:
                    break
                module.set_pairs(pairs)
                module.to(device)
                basis = None
        module.cpu()  # the basis lives on the CPU, as the solver's does
        module.purify_and_centre(X_t.cpu(), basis)
        module.to(device)
        return history, len(history)

    # ---------------------------------------------------------------- temperature search
    def _warm_start_pays(self) -> bool:
        """True after an L-BFGS fit: a candidate at another temperature keeps this fit's
        knots and pair terms and continues from its weights for half of ``max_iter``
        (every candidate the same: :func:`~._additive_solver.lbfgs_solve` with ``warm``),
        one stage instead of two from scratch (the Adam loop gains nothing)."""
        return self.__dict__.get("solver_") == "lbfgs"

    def _search_workers(self) -> int:
        """After an L-BFGS fit, the candidates continued from it fit at once, a thread
        each: ``n_jobs`` threads (None: every core). A continued fit draws no random
        numbers (knots and pairs are kept), and its numerical work (scipy's sparse
        products, LAPACK, torch) runs without the GIL: on 2 cores, 4,000 rows x 30
        columns, 5 candidates took 3.6 s instead of 5.1-5.7 s one after another, the same
        models to the bit (measured)."""
        if not self._warm_start_pays():
            return 1
        n_jobs = -1 if self.n_jobs is None else self.n_jobs
        return resolve_threads(n_jobs, owner=type(self).__name__)

    @contextlib.contextmanager
    def _search_parallel_context(self) -> Iterator[None]:
        """BLAS at one thread (as each solve sets), torch at this fit's thread count, and
        the torch random state restored afterwards, fixed for the parallel candidates."""
        with (
            threadpool_limits(limits=1),
            self._threads(self.batch_size_),
            torch.random.fork_rng(devices=[]),
        ):
            yield

    # ---------------------------------------------------------------- solver pieces
    def _loss(self, module: AdditiveModule, z: torch.Tensor, targets: Targets) -> torch.Tensor:
        """The distillation objective on decision values z (shape (n, n_out))."""
        teacher = targets.teacher_log_proba
        return kd_loss_from_log_targets(
            module.to_logits(z),
            None if teacher is None else teacher.to(z.dtype),
            targets.y,
            temperature=targets.temperature,
            hard_label_weight=targets.hard_label_weight,
        )

    def _solve(
        self,
        module: AdditiveModule,
        X_t: torch.Tensor,
        X_np: np.ndarray,
        targets: Targets,
        seed: int,
        max_epochs: int,
        device: torch.device,
        solver: str,
        iterations: int | None = None,
        warm: bool = False,
        basis: Basis | None = None,
    ) -> list[dict[str, float]]:
        if solver == "adam":
            epochs, _ = super()._run_epochs(module, X_np, targets, seed, max_epochs, device)
            return epochs
        with threadpool_limits(limits=1):  # small factorisations: BLAS threads only contend
            return lbfgs_solve(
                module,
                X_t,
                targets,
                lambda z, rows: self._loss(module, z, rows),
                smoothness=self._fit_smoothness,
                ridge=float(self.ridge),
                max_iter=max(1, iterations or int(self.max_iter)),
                tol=float(self.tol),
                device=device,
                warm=warm,
                basis=basis,
                threads=self._product_threads(module),
            )

    def _product_threads(self, module: AdditiveModule) -> int:
        """Threads of the solver's sparse products: ``n_jobs`` as everywhere
        (:func:`~interpretable_kd._torch_utils.resolve_threads`); for ``None``, every core
        once the design holds ``ADDITIVE_PARALLEL_MIN_ENTRIES`` entries (rows x (2
        features + 4 pairs), an upper bound), else one."""
        if self.n_jobs is not None:
            return resolve_threads(self.n_jobs, owner=type(self).__name__)
        entries = getattr(self, "_n_rows", 0) * (2 * module.n_features + 4 * int(module.n_pairs))
        return resolve_threads(-1) if entries >= ADDITIVE_PARALLEL_MIN_ENTRIES else 1

    def _smoothness(self, targets: Targets) -> float:
        """The smoothness weight of this fit: ``smoothness * T^2`` when the loss has a
        soft term (the soft term is ``T^2 KL`` and, for a sharpened teacher, T < 1, its
        curvature shrinks with T^2: the prior keeps its weight relative to the loss),
        ``smoothness`` for hard labels alone."""
        soft = targets.teacher_log_proba is not None and targets.hard_label_weight < 1.0
        return float(self.smoothness) * (float(targets.temperature) ** 2 if soft else 1.0)

    def _screen(
        self,
        module: AdditiveModule,
        X_t: torch.Tensor,
        X_np: np.ndarray,
        targets: Targets,
        seed: int,
        basis: Basis | None = None,
    ) -> list[tuple[int, int]]:
        """Pairs for the second stage: FAST on the negative gradient of the loss at the
        main-effects model (for soft targets, ``p_T - p_S`` per row, up to a factor);
        ``basis``: the main-effects model's, when the solver made one."""
        n = X_np.shape[0]
        rows = np.arange(n)
        if n > SCREEN_ROWS:
            rows = np.sort(np.random.default_rng(seed).choice(n, SCREEN_ROWS, replace=False))
        picked = torch.as_tensor(rows, device=X_t.device)
        with torch.no_grad():
            if basis is not None:  # no pairs yet: the design holds the main effects
                mains = torch.from_numpy(basis[1][rows] @ module.table_array()).to(X_t.device)
            else:
                mains = module.terms(X_t[picked])[0].sum(1)
        z = (module.bias.detach() + mains).requires_grad_(True)
        loss = self._loss(module, z, targets.rows(torch.as_tensor(rows)).to(X_t.device))
        (gradient,) = torch.autograd.grad(loss, z)
        residual = -gradient.cpu().numpy() * len(rows)
        knots = [
            module.knots[j, : int(module.n_active[j])].cpu().numpy() for j in range(X_np.shape[1])
        ]
        return screen_pairs(X_np[rows].astype(np.float64), residual, knots, module.max_pairs)
