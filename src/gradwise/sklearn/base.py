"""What the classifier and the regressor share: the network's lifecycle, the solvers' dispatch, prediction."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator  # type: ignore[import-untyped]
from sklearn.utils import check_random_state  # type: ignore[import-untyped]
from sklearn.utils.validation import _check_sample_weight, validate_data  # type: ignore[import-untyped]

from gradwise.sklearn.extra_solvers import EXTRA_SOLVERS
from gradwise.sklearn.health import start_health
from gradwise.sklearn.lbfgs import fit_lbfgs, pack, unpack
from gradwise.sklearn.params import check_params, hidden_sizes
from gradwise.sklearn.passes import backprop, forward
from gradwise.sklearn.stochastic import fit_stochastic

Array = np.ndarray
STOCHASTIC = ("sgd", "adam", *EXTRA_SOLVERS)


class MultilayerPerceptron(BaseEstimator):  # type: ignore[misc]
    """The base of ``GradwiseClassifier`` and ``GradwiseRegressor``; see their docstrings."""

    coefs_: list[Array]
    intercepts_: list[Array]
    diagnoses_: list[Any]

    # -- set by the subclasses -------------------------------------------------------------------
    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple[Any, Array]:
        raise NotImplementedError

    def _output_activation(self) -> str:
        raise NotImplementedError

    def _stratify_validation(self) -> bool:
        return False

    def _validation_targets(self, y: Array) -> Array:
        return y

    # -- training --------------------------------------------------------------------------------
    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool) -> MultilayerPerceptron:
        check_params(self)
        hidden = hidden_sizes(self.hidden_layer_sizes)
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        # (n_samples, n_outputs): a classifier's indicators stay bool (its validation split stratifies on them)
        y = np.asarray(y, dtype=bool if y.dtype == bool else X.dtype).reshape(len(y), -1)
        self.n_outputs_ = y.shape[1]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize([X.shape[1], *hidden, self.n_outputs_], X.dtype)
            self._health = start_health(self, X, y) if self.monitor else None
        else:  # warm start, partial_fit, or weights set by hand: go on from coefs_ and intercepts_
            self.coefs_ = [np.array(c, dtype=X.dtype) for c in self.coefs_]
            self.intercepts_ = [np.array(b, dtype=X.dtype) for b in self.intercepts_]
            self._health = getattr(self, "_health", None)
            self.diagnoses_ = getattr(self, "diagnoses_", [])
            self._steps = getattr(self, "_steps", 0)
        if self._health is not None:
            self._health.attach(self.coefs_, self.intercepts_)
        if self.solver in STOCHASTIC:
            fit_stochastic(self, X, y, sample_weight, incremental)
        else:
            fit_lbfgs(self, X, y, sample_weight)
        if not all(np.isfinite(w).all() for w in [*self.coefs_, *self.intercepts_]):
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain large values and need "
                "to be preprocessed."
            )
        return self

    def _initialize(self, layer_units: list[int], dtype: np.dtype) -> None:
        """Fresh weights and bookkeeping; Glorot uniform bounds, as scikit-learn draws them (same random_state,
        same weights): sqrt(6 / (fan_in + fan_out)), sqrt(2 / ...) for the logistic."""
        self.n_iter_, self.t_, self._steps = 0, 0, 0
        self.n_layers_ = len(layer_units)
        self.out_activation_ = self._output_activation()
        factor = 2.0 if self.activation == "logistic" else 6.0
        self.coefs_, self.intercepts_ = [], []
        for fan_in, fan_out in pairwise(layer_units):
            bound = np.sqrt(factor / (fan_in + fan_out))
            self.coefs_.append(self._random_state.uniform(-bound, bound, (fan_in, fan_out)).astype(dtype))
            self.intercepts_.append(self._random_state.uniform(-bound, bound, fan_out).astype(dtype))
        self._best_coefs = [c.copy() for c in self.coefs_]
        self._best_intercepts = [b.copy() for b in self.intercepts_]
        self.diagnoses_ = []
        if self.solver in STOCHASTIC:
            self.loss_curve_: list[float] = []
            self._no_improvement_count = 0
            early = bool(self.early_stopping)
            self.validation_scores_: list[float] | None = [] if early else None
            self.best_validation_score_: float | None = -np.inf if early else None
            self.best_loss_: float | None = None if early else np.inf

    def _loss_grad_lbfgs(self, packed: Array, X: Any, y: Array, sample_weight: Array | None, *_: Any) -> Any:
        """(loss, packed gradient) at the weights ``packed``, which become coefs_ and intercepts_ (views)."""
        self.coefs_, self.intercepts_ = unpack(packed, self.coefs_, self.intercepts_)
        loss, coef_grads, intercept_grads = backprop(
            self.coefs_, self.intercepts_, X, y, hidden=self.activation, output=self.out_activation_,
            alpha=self.alpha, sample_weight=sample_weight,
        )  # fmt: skip
        return loss, pack(coef_grads, intercept_grads)

    def _check_solver(self) -> bool:
        if self.solver not in STOCHASTIC:
            raise AttributeError(
                f"partial_fit is only available for stochastic optimizers. {self.solver} is not stochastic."
            )
        return True

    # -- prediction ------------------------------------------------------------------------------
    def _forward_pass_fast(self, X: Any, check_input: bool = True) -> Array:
        """The output layer's activations (n_samples, n_outputs)."""
        if check_input:
            X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False, dtype=(np.float64, np.float32))
        return forward(self.coefs_, self.intercepts_, X, self.activation, self.out_activation_)[-1]  # type: ignore[no-any-return]

    def _score_with(self, X: Any, y: Any, sample_weight: Any, score: Any) -> float:
        predicted = self._predict(X, check_input=False)
        if np.issubdtype(predicted.dtype, np.floating) and not np.isfinite(predicted).all():
            return float(np.nan)
        return float(score(y, predicted, sample_weight=sample_weight))

    def _predict(self, X: Any, check_input: bool = True) -> Array:
        raise NotImplementedError

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- pickling: the health monitor holds a mirror network of closures; it does not travel -----------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("_health", None)
        return state
