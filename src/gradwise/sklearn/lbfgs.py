"""solver="lbfgs": the whole data set's loss and gradient handed to scipy's L-BFGS-B, as scikit-learn does.

``max_iter`` bounds its iterations, ``max_fun`` its loss evaluations and ``tol`` is its ``gtol``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.optimize  # type: ignore[import-untyped]
from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]

Array = np.ndarray


def pack(coefs: list[Array], intercepts: list[Array]) -> Array:
    """Every weight, then every intercept, flattened into one vector (n_params,)."""
    return np.concatenate([a.ravel() for a in [*coefs, *intercepts]])


def unpack(packed: Array, coefs: list[Array], intercepts: list[Array]) -> tuple[list[Array], list[Array]]:
    """``pack``'s inverse, shaped like ``coefs`` and ``intercepts``: views into ``packed``."""
    arrays, start = [], 0
    for a in [*coefs, *intercepts]:
        arrays.append(packed[start : start + a.size].reshape(a.shape))
        start += a.size
    return arrays[: len(coefs)], arrays[len(coefs) :]


def fit_lbfgs(estimator: Any, X: Any, y: Array, sample_weight: Array | None) -> None:
    """Minimise the loss over every sample from the current weights; sets n_iter_, loss_, coefs_, intercepts_."""
    result = scipy.optimize.minimize(
        estimator._loss_grad_lbfgs,
        pack(estimator.coefs_, estimator.intercepts_),
        method="L-BFGS-B",
        jac=True,
        options={"maxfun": estimator.max_fun, "maxiter": estimator.max_iter, "gtol": estimator.tol},
        args=(X, y, sample_weight),
    )
    estimator.n_iter_ = min(int(result.nit), estimator.max_iter)
    if result.status != 0:
        advice = " Increase max_iter or scale the data." if estimator.n_iter_ >= estimator.max_iter else ""
        warnings.warn(
            f"lbfgs failed to converge after {estimator.n_iter_} iteration(s) (status={result.status}): "
            f"{result.message}.{advice}",
            ConvergenceWarning,
            stacklevel=4,
        )
    estimator.loss_ = float(result.fun)
    estimator.coefs_, estimator.intercepts_ = unpack(
        np.asarray(result.x, dtype=estimator.coefs_[0].dtype), estimator.coefs_, estimator.intercepts_
    )
