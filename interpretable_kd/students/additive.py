"""The additive student (GA2M): one shape function per feature plus a few pair terms.

    logit_k(x) = b_k + sum_j f_jk(x_j) + sum_{(i, j) in S} f_ijk(x_i, x_j)

Shape functions are piecewise linear on quantile knots of the training rows and pair
terms bilinear on a small grid (:mod:`._additive_module`): a fixed basis, so the model is
linear in its parameters and the distillation objective (:mod:`interpretable_kd.losses`)
plus a smoothness penalty is convex. It is solved on all rows at once by L-BFGS (strong
Wolfe line search), twice: main effects first, then, after a FAST-style screen of the
pairs on what the main effects leave, main effects and the chosen pairs together.
Beyond ``FULL_BATCH_CELLS`` basis entries the shared mini-batch Adam loop is used
instead. Afterwards each term is made identifiable on the training rows: pair terms
doubly centred (purified into the main effects), main effects centred, the intercept
carrying the means.

Why this family (measured in ``benchmarks/additive.py``): the fixed basis gives EBM-level
fidelity with one convex solve (seconds on 100k rows), where per-feature networks (Neural
Additive Models) need many epochs of mini-batch training and are not exactly solvable.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from .._defaults import BATCH_SIZE, MAX_EPOCHS, N_ITER_NO_CHANGE
from .._torch_utils import Targets
from .._training import TorchClassifier
from .._validation import check_choice, check_fitted, check_number, check_X
from ..exceptions import InputError
from ..losses import kd_loss_from_log_targets
from ._additive_module import AdditiveModule
from ._additive_solver import feature_groups, lbfgs_solve, screen_pairs

__all__ = ["FULL_BATCH_CELLS", "AdditiveClassifier", "feature_groups"]

#: Above this many basis entries (rows x (2 features + 4 pairs)) the mini-batch loop is
#: used instead of full-batch L-BFGS (about 16 bytes each: ~1 GB).
FULL_BATCH_CELLS = 60_000_000
#: Rows the interaction screen looks at, at most (a seeded sample).
SCREEN_ROWS = 20_000


class AdditiveClassifier(TorchClassifier):
    """An additive model with pairwise interactions (GA2M), as a distillation student.

    ``logit_k(x) = b_k + sum_j f_jk(x_j) + sum_{(i,j) in S} f_ijk(x_i, x_j)``; two classes
    have one output, the log-odds of ``classes_[1]`` (logits ``[0, z]``).

    Parameters
    ----------
    n_knots : int
        Most knots per shape function (quantiles of the training rows; a column with
        fewer distinct values gets one knot per value, so a binary column has one
        coefficient after centring), >= 2.
    max_interactions : int
        Most pair terms, chosen by a FAST-style screen (Lou et al. 2013) of the residual
        of the main-effects model; 0 gives a pure additive model (GAM).
    interaction_knots : int
        Knots per axis of a pair term's grid (a subset of the features' knots), >= 2.
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
        Most L-BFGS iterations of the final stage (the main-effects stage that feeds
        the screen gets a quarter).
    tol : float
        L-BFGS stops when the largest gradient entry falls below ``tol`` times the
        largest entry at the start, or the loss changes by less than ``tol * 1e-6`` of
        its starting value (the Adam loop uses ``tol`` as its early-stopping
        tolerance).
    max_epochs, batch_size, learning_rate, weight_decay, early_stopping, \
validation_fraction, n_iter_no_change, random_state, verbose, device, n_jobs
        The shared training loop's settings (``TorchClassifier``); only the "adam"
        solver uses the epoch, batch and learning-rate settings.

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
    """

    def __init__(
        self,
        *,
        n_knots: int = 32,
        max_interactions: int = 20,
        interaction_knots: int = 16,
        smoothness: float = 1.0,
        ridge: float = 1e-6,
        solver: str = "auto",
        max_iter: int = 300,
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
        check_number(self.n_knots, "n_knots", owner, integer=True, low=2)
        check_number(self.max_interactions, "max_interactions", owner, integer=True, low=0)
        check_number(self.interaction_knots, "interaction_knots", owner, integer=True, low=2)
        check_number(self.smoothness, "smoothness", owner, low=0.0)
        check_number(self.ridge, "ridge", owner, low=0.0)
        check_choice(self.solver, "solver", owner, ["auto", "lbfgs", "adam"])
        check_number(self.max_iter, "max_iter", owner, integer=True, low=1)

    #: The basis (knots, pair terms) is placed on all training rows at once: no streaming.
    _fits_on_all_rows = True

    def _build_module(self, n_features: int, n_classes: int) -> torch.nn.Module:
        pairs = min(int(self.max_interactions), n_features * (n_features - 1) // 2)
        return AdditiveModule(
            n_features, n_classes, int(self.n_knots), pairs, int(self.interaction_knots)
        )

    def _penalty(self, module: torch.nn.Module) -> torch.Tensor | float:
        assert isinstance(module, AdditiveModule)
        n = getattr(self, "_n_rows", 1)
        return module.penalty(float(self.smoothness) / n, float(self.ridge) / n)

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
        solver = self.solver
        if solver == "auto":
            cells = n * (2 * d + 4 * module.max_pairs)
            solver = "lbfgs" if cells <= FULL_BATCH_CELLS else "adam"
        self.solver_ = solver
        history: list[dict[str, float]] = []
        stages = 1 if int(module.fitted) else 2
        if stages == 2:
            module.set_knots(X_np)
            module.to(device)
        for stage in range(stages):
            # the main-effects stage only feeds the screen: a quarter of the iterations
            iterations = int(self.max_iter) // 4 if stages == 2 and stage == 0 else None
            history += self._solve(
                module, X_t, X_np, targets, seed, max_epochs, device, solver, iterations
            )
            if stage == 0 and stages == 2 and module.max_pairs > 0:
                pairs = self._screen(module, X_t, X_np, targets, seed)
                if not pairs:
                    break
                module.set_pairs(pairs)
                module.to(device)
        module.purify_and_centre(X_t)
        return history, len(history)

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
    ) -> list[dict[str, float]]:
        if solver == "adam":
            epochs, _ = super()._run_epochs(module, X_np, targets, seed, max_epochs, device)
            return epochs
        return lbfgs_solve(
            module,
            X_t,
            targets,
            lambda z, rows: self._loss(module, z, rows),
            smoothness=float(self.smoothness),
            ridge=float(self.ridge),
            max_iter=max(1, iterations or int(self.max_iter)),
            tol=float(self.tol),
            device=device,
        )

    def _screen(
        self,
        module: AdditiveModule,
        X_t: torch.Tensor,
        X_np: np.ndarray,
        targets: Targets,
        seed: int,
    ) -> list[tuple[int, int]]:
        """Pairs for the second stage: FAST on the negative gradient of the loss at the
        main-effects model (for soft targets, ``p_T - p_S`` per row, up to a factor)."""
        n = X_np.shape[0]
        rows = np.arange(n)
        if n > SCREEN_ROWS:
            rows = np.sort(np.random.default_rng(seed).choice(n, SCREEN_ROWS, replace=False))
        picked = torch.as_tensor(rows, device=X_t.device)
        with torch.no_grad():
            mains, _ = module.terms(X_t[picked])
        z = (module.bias.detach() + mains.sum(1)).requires_grad_(True)
        loss = self._loss(module, z, targets.rows(torch.as_tensor(rows)).to(X_t.device))
        (gradient,) = torch.autograd.grad(loss, z)
        residual = -gradient.cpu().numpy() * len(rows)
        knots = [
            module.knots[j, : int(module.n_active[j])].cpu().numpy() for j in range(X_np.shape[1])
        ]
        return screen_pairs(X_np[rows].astype(np.float64), residual, knots, module.max_pairs)

    # ---------------------------------------------------------------- readable parts
    def _names(self) -> list[str]:
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            return [str(n) for n in names]
        return [f"x{j}" for j in range(int(self.n_features_in_))]

    def _units(self) -> tuple[np.ndarray, np.ndarray]:
        """``x_mean_`` and ``x_scale_`` (identity for a model without them)."""
        d = int(self.n_features_in_)
        mean = np.asarray(self.__dict__.get("x_mean_", np.zeros(d)), dtype=np.float64)
        scale = np.asarray(self.__dict__.get("x_scale_", np.ones(d)), dtype=np.float64)
        return mean, scale

    def _output_labels(self) -> list[Any]:
        classes = list(self.classes_)
        return classes[1:] if len(classes) == 2 else classes

    @property
    def interactions_(self) -> list[tuple[str, str]]:
        check_fitted(self, "module_")
        names = self._names()
        pairs = self.module_.pairs[: int(self.module_.n_pairs)].tolist()
        return [(names[i], names[j]) for i, j in pairs]

    @property
    def intercept_(self) -> np.ndarray:
        check_fitted(self, "module_")
        return self.module_.bias.detach().cpu().numpy().copy()

    @property
    def base_values_(self) -> np.ndarray:
        check_fitted(self, "module_")
        module = self.module_
        means = module.pair_means[: int(module.n_pairs)].sum(0)
        return (module.bias.detach() + means).cpu().numpy()

    @property
    def term_importances_(self) -> pd.DataFrame:
        check_fitted(self, "module_")
        module = self.module_
        d, P = int(self.n_features_in_), int(module.n_pairs)
        importance = module.importance.cpu().numpy()
        names = self._names()
        terms = names + [f"{a} x {b}" for a, b in self.interactions_]
        frame = pd.DataFrame(
            {
                "term": terms,
                "importance": np.concatenate([importance[:d], importance[d : d + P]]),
                "kind": ["main"] * d + ["pair"] * P,
            }
        )
        return frame.sort_values("importance", ascending=False, kind="stable").reset_index(
            drop=True
        )

    def decision_function(self, X: Any) -> np.ndarray:
        """Decision values z: shape (n_rows,) for two classes (log-odds of
        ``classes_[1]``), else (n_rows, n_classes) logits."""
        logits = self.logits(X)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def _term_values(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        check_fitted(self, "module_")
        X_checked = check_X(self, X, reset=False)
        # as logits() does: rows cast to the module's dtype (float64), then standardised
        x = torch.from_numpy(np.ascontiguousarray(X_checked)).to(self.module_.bias)
        standardise = getattr(self, "_standardise_tensor", None)
        with torch.no_grad():
            mains, pairs = self.module_.terms(x if standardise is None else standardise(x))
        return mains.cpu().numpy(), pairs.cpu().numpy()

    def explain(self, X: Any, target: Any = None) -> pd.DataFrame:
        """Each feature's contribution to each row's decision value: its exact
        interventional Shapley value against the training rows (no sampling).

        For the class logit ``z_t`` (two classes: the log-odds of ``classes_[1]``),
        ``phi_j(x) = f_j(x_j) + sum_{p containing j} (g_p(x) - mean_rows g_p) / 2``.
        A main effect's Shapley value is ``f_j(x_j) - E f_j = f_j(x_j)`` (centred). A pair
        term is doubly centred against the training rows' marginals
        (``E_rows g_p(x_i, X_j) = 0`` for every x_i, and in x_j), so its Shapley value
        splits ``g_p(x) - E_rows g_p`` equally between its two features. Hence
        ``explain(X).sum(1) + base_values_[t] == z_t(x)`` and these are the values
        :func:`interpretable_kd.attributions.explain` computes by enumeration for the
        logit of class t, with the training rows (all of them, equal weights) as
        background.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_rows, n_features)
            Rows.
        target : int, array of int of shape (n_rows,), or None
            Output explained per row: for two classes only 0 (the log-odds); for more,
            a class index per row. None: 0 for two classes, the predicted class else.

        Returns
        -------
        DataFrame of shape (n_rows, n_features)
            Contributions, one column per feature (the model's feature names).
        """
        mains, pairs = self._term_values(X)
        n, _, o = mains.shape
        if target is None:
            t = np.zeros(n, dtype=np.int64) if o == 1 else (mains.sum(1) + pairs.sum(1)).argmax(1)
        else:
            t = np.broadcast_to(np.asarray(target), (n,)).astype(np.int64)
            if t.min(initial=0) < 0 or t.max(initial=0) >= o:
                raise InputError(
                    f"{type(self).__name__}.explain needs target in 0..{o - 1} (one index "
                    f"per output; two classes have one output, the log-odds); got "
                    f"{sorted(set(np.unique(t).tolist()))}. Pass target=None or class indices."
                )
        rows = np.arange(n)
        values = mains[rows, :, t].copy()
        module = self.module_
        centred = pairs - module.pair_means[: pairs.shape[1]].cpu().numpy()
        for p, (i, j) in enumerate(module.pairs[: pairs.shape[1]].tolist()):
            half = centred[rows, p, t] / 2.0
            values[:, i] += half
            values[:, j] += half
        return pd.DataFrame(values, columns=self._names())

    def shape_functions(self) -> pd.DataFrame:
        """Every main effect at its knots, in the user's units (the shape is linear
        between consecutive knots and flat beyond the ends).

        Returns
        -------
        DataFrame
            Columns ``feature``, ``x`` (original units), ``class`` (the output's class:
            ``classes_[1]`` for two classes, whose log-odds it is), ``contribution``
            (centred on the training rows). One row per (feature, knot, output).
        """
        check_fitted(self, "module_")
        module = self.module_
        d, K, o = int(self.n_features_in_), module.n_knots, module.n_out
        mean, scale = self._units()
        table = module.main.detach().view(d, K, o).cpu().numpy()
        knots = module.knots.cpu().numpy()
        labels = self._output_labels()
        parts = []
        for j, name in enumerate(self._names()):
            m = int(module.n_active[j])
            x = knots[j, :m] * scale[j] + mean[j]
            for k in range(o):
                parts.append(
                    pd.DataFrame(
                        {
                            "feature": name,
                            "x": x,
                            "class": labels[k],
                            "contribution": table[j, :m, k],
                        }
                    )
                )
        return pd.concat(parts, ignore_index=True)

    def interaction_functions(self) -> list[dict[str, Any]]:
        """Every pair term on its grid, in the user's units.

        Returns
        -------
        list of dict
            Per pair: ``features`` (two names), ``x`` and ``y`` (grid values of the two
            features, original units), ``values`` (array of shape (len(x), len(y),
            n_out), the doubly-centred term at the grid points).
        """
        check_fitted(self, "module_")
        module = self.module_
        mean, scale = self._units()
        G, o = module.grid, module.n_out
        grids = module.pair.detach().view(module.max_pairs, G, G, o).cpu().numpy()
        out = []
        for p, names in enumerate(self.interactions_):
            i, j = module.pairs[p].tolist()
            mi, mj = module.pair_active[p].tolist()
            knots = module.pair_knots[p].cpu().numpy()
            out.append(
                {
                    "features": names,
                    "x": knots[0, :mi] * scale[i] + mean[i],
                    "y": knots[1, :mj] * scale[j] + mean[j],
                    "values": grids[p, :mi, :mj].copy(),
                }
            )
        return out

    def complexity(self, X: Any = None) -> dict[str, Any]:
        """How big and how readable the fitted model is.

        Parameters
        ----------
        X : array-like or None
            Ignored.

        Returns
        -------
        dict
            ``parameters`` (free values: used knots per shape and grid cells per pair,
            times outputs, plus intercepts), ``shape_functions`` (features with a
            non-constant shape), ``interactions`` (pair terms).
        """
        check_fitted(self, "module_")
        module = self.module_
        o = module.n_out
        active = module.n_active.cpu().numpy()
        P = int(module.n_pairs)
        cells = int((module.pair_active[:P, 0] * module.pair_active[:P, 1]).sum()) if P else 0
        importance = module.importance.cpu().numpy()[: int(self.n_features_in_)]
        return {
            "parameters": int((active.sum() + cells) * o + o),
            "shape_functions": int(np.count_nonzero(importance > 1e-12)),
            "interactions": P,
        }

    def readable_view(self) -> dict[str, Any]:
        """The shapes, importances and pair terms, as plain data for the report.

        Returns
        -------
        dict
            ``"view"``: ``"additive"``; ``"groups"``: :func:`feature_groups` of the
            feature names; ``"shapes"``: :meth:`shape_functions`;
            ``"importances"``: :attr:`term_importances_`; ``"interactions"``:
            :meth:`interaction_functions`; ``"intercept"``: :attr:`intercept_`;
            ``"outputs"``: the class of each output (one for two classes: the log-odds
            of ``classes_[1]``).
        """
        return {
            "view": "additive",
            "groups": feature_groups(self._names()),
            "shapes": self.shape_functions(),
            "importances": self.term_importances_,
            "interactions": self.interaction_functions(),
            "intercept": self.intercept_,
            "outputs": [str(c) for c in self._output_labels()],
        }
