"""``GradwiseRegressor``: scikit-learn's ``MLPRegressor``, the same model trained the same way, diagnosed."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import RegressorMixin  # type: ignore[import-untyped]
from sklearn.metrics import r2_score  # type: ignore[import-untyped]
from sklearn.utils.metaestimators import available_if  # type: ignore[import-untyped]
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data  # type: ignore[import-untyped]

from gradwise.sklearn.base import MultilayerPerceptron
from gradwise.sklearn.fixes import fix_params
from gradwise.sklearn.params import keep_params

Array = np.ndarray
LOSSES = ("squared_error", "poisson")


class GradwiseRegressor(RegressorMixin, MultilayerPerceptron):  # type: ignore[misc]
    """A multilayer perceptron regressor: ``MLPRegressor``'s parameters, defaults, solvers and attributes.

    ``loss="squared_error"`` trains identity outputs on half the squared error; ``"poisson"`` exp outputs on
    half the Poisson deviance. Everything else is as ``GradwiseClassifier`` (see there), with R^2 as the
    validation score of ``early_stopping``. The health monitor judges the run as a regression: its chance
    loss is half the targets' variance, and unscaled targets are diagnosed before training.
    """

    def __init__(
        self,
        loss: str = "squared_error",
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        monitor: bool = True,
    ) -> None:
        keep_params(self, locals())

    fix_params = staticmethod(fix_params)

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> GradwiseRegressor:
        """Train on X (n_samples, n_features) and y (n_samples,) or (n_samples, n_outputs) numbers."""
        self._fit(X, y, sample_weight, incremental=False)
        return self

    @available_if(lambda self: self._check_solver())  # type: ignore[untyped-decorator]
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> GradwiseRegressor:
        """One epoch over (X, y), going on from the current weights."""
        self._fit(X, y, sample_weight, incremental=True)
        return self

    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple[Any, Array]:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {self.loss!r}")
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], multi_output=True, y_numeric=True,
            dtype=(np.float64, np.float32), reset=reset,
        )  # fmt: skip
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if self.loss == "poisson" and (y < 0).any():
            raise ValueError("loss='poisson' needs targets y >= 0; got negative values")
        return X, y

    def _output_activation(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def predict(self, X: Any) -> Array:
        """Predictions (n_samples,), or (n_samples, n_outputs) for several targets."""
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X: Any, check_input: bool = True) -> Array:
        out = self._forward_pass_fast(X, check_input=check_input)
        return out.ravel() if out.shape[1] == 1 else out

    def _score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        return self._score_with(X, y, sample_weight, r2_score)
