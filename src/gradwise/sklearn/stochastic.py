"""solver="sgd" / "adam": epochs of minibatches, scikit-learn's stopping rule, schedules and early stopping."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning  # type: ignore[import-untyped]
from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]

from gradwise.sklearn.extra_solvers import EXTRA_SOLVERS, GradwiseSolver, decoupled_decay
from gradwise.sklearn.optimizers import SGD, Adam
from gradwise.sklearn.passes import backprop

Array = np.ndarray
AUTO_BATCH = 200  # batch_size="auto": min(200, n_samples)


def make_optimizer(estimator: Any, params: list[Array]) -> SGD | Adam | GradwiseSolver:
    if estimator.solver in EXTRA_SOLVERS:
        return GradwiseSolver(estimator, params)
    if estimator.solver == "sgd":
        return SGD(
            params, estimator.learning_rate_init, estimator.learning_rate, estimator.momentum,
            estimator.nesterovs_momentum, estimator.power_t,
        )  # fmt: skip
    return Adam(params, estimator.learning_rate_init, estimator.beta_1, estimator.beta_2, estimator.epsilon)


def batch_size_of(estimator: Any, n_samples: int) -> int:
    if isinstance(estimator.batch_size, str):
        return min(AUTO_BATCH, n_samples)
    if not 1 <= estimator.batch_size <= n_samples:
        warnings.warn(
            f"batch_size={estimator.batch_size} is outside [1, n_samples={n_samples}]: clipped to that range",
            UserWarning,
            stacklevel=5,
        )
    return int(np.clip(estimator.batch_size, 1, n_samples))


def hold_out(estimator: Any, X: Any, y: Array, sample_weight: Array | None) -> tuple[Any, ...]:
    """(X_train, y_train, w_train, X_val, y_val, w_val): ``validation_fraction`` held out, stratified for a
    single-output classifier; without early stopping the validation parts are None."""
    if not estimator.early_stopping:
        return X, y, sample_weight, None, None, None
    stratify = y if estimator._stratify_validation() else None
    arrays = [X, y] if sample_weight is None else [X, y, sample_weight]
    parts = train_test_split(
        *arrays, random_state=estimator._random_state, test_size=estimator.validation_fraction, stratify=stratify
    )
    x_train, x_val, y_train, y_val = parts[:4]
    w_train, w_val = (parts[4], parts[5]) if sample_weight is not None else (None, None)
    if x_val.shape[0] < 2:
        raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of your dataset.")
    return x_train, y_train, w_train, x_val, estimator._validation_targets(y_val), w_val


def fit_stochastic(estimator: Any, X: Any, y: Array, sample_weight: Array | None, incremental: bool) -> None:
    """Train for up to max_iter epochs (one with ``incremental``), stopping as scikit-learn stops."""
    params = estimator.coefs_ + estimator.intercepts_
    if not incremental or not hasattr(estimator, "_optimizer"):
        estimator._optimizer = make_optimizer(estimator, params)
    if estimator.early_stopping and incremental:
        raise ValueError("partial_fit does not support early_stopping=True")
    x_train, y_train, w_train, *validation = hold_out(estimator, X, y, sample_weight)
    n_samples = x_train.shape[0]
    order = np.arange(n_samples)
    batch = batch_size_of(estimator, n_samples)
    estimator.n_iter_ = 0
    for _ in range(estimator.max_iter):
        if estimator.shuffle:  # a fresh permutation of the previous order, from the estimator's random state
            order = order[estimator._random_state.permutation(n_samples)]
        total = 0.0
        for start in range(0, n_samples, batch):
            rows = order[start : start + batch] if estimator.shuffle else slice(start, start + batch)
            weights = None if w_train is None else w_train[rows]
            total += _step(estimator, params, x_train[rows], y_train[rows], weights)
        if _close_epoch(estimator, total / n_samples, n_samples, validation):
            break
        if incremental:
            break
        if estimator.n_iter_ == estimator.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({estimator.max_iter}) reached and the optimization "
                "hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,
            )
    if estimator.early_stopping:
        estimator.coefs_, estimator.intercepts_ = estimator._best_coefs, estimator._best_intercepts


def _step(estimator: Any, params: list[Array], x: Any, y: Array, weights: Array | None) -> float:
    """One minibatch: gradients, the health monitor's look, the update -> the batch loss times its rows."""
    health = estimator._health
    step = estimator._steps + 1
    probe = health.probe(step) if health is not None else None
    loss, coef_grads, intercept_grads = backprop(
        estimator.coefs_, estimator.intercepts_, x, y, hidden=estimator.activation,
        output=estimator.out_activation_, alpha=0.0 if decoupled_decay(estimator.solver) else estimator.alpha,
        sample_weight=weights, probe=probe,
    )  # fmt: skip
    if probe is not None:
        health.gradients(step, coef_grads, intercept_grads)
    estimator._optimizer.update(params, coef_grads + intercept_grads)
    estimator._steps = step
    if health is not None:
        health.step(step, loss)
    return float(loss * x.shape[0])


def _close_epoch(estimator: Any, loss: float, n_samples: int, validation: list[Any]) -> bool:
    """Record the epoch; True when the stopping rule ends the run."""
    estimator.n_iter_ += 1
    estimator.loss_ = loss
    estimator.t_ += n_samples
    estimator.loss_curve_.append(loss)
    if estimator.verbose:
        print("Iteration %d, loss = %.8f" % (estimator.n_iter_, loss))  # noqa: UP031 - scikit-learn's line
    _count_no_improvement(estimator, validation)
    estimator._optimizer.epoch_ends(estimator.t_)
    if estimator._no_improvement_count <= estimator.n_iter_no_change:
        return False
    watched = "Validation score" if estimator.early_stopping else "Training loss"
    message = (
        f"{watched} did not improve more than tol={estimator.tol:f} for {estimator.n_iter_no_change} "
        "consecutive epochs."
    )
    stop, tail = estimator._optimizer.plateau()
    if estimator.verbose:
        print(message + tail)
    if not stop:
        estimator._no_improvement_count = 0
    return bool(stop)


def _count_no_improvement(estimator: Any, validation: list[Any]) -> None:
    """An epoch without improvement by more than tol (validation score up, or training loss down) counts one."""
    if estimator.early_stopping:
        score = float(estimator._score(*validation))
        estimator.validation_scores_.append(score)
        if estimator.verbose:
            print(f"Validation score: {score:f}")
        better = not score < estimator.best_validation_score_ + estimator.tol  # a NaN score resets the count
        if score > estimator.best_validation_score_:
            estimator.best_validation_score_ = score
            estimator._best_coefs = [c.copy() for c in estimator.coefs_]
            estimator._best_intercepts = [b.copy() for b in estimator.intercepts_]
    else:
        better = not estimator.loss_curve_[-1] > estimator.best_loss_ - estimator.tol
        estimator.best_loss_ = min(estimator.best_loss_, estimator.loss_curve_[-1])
    estimator._no_improvement_count = 0 if better else estimator._no_improvement_count + 1
