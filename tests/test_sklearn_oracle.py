"""scikit-learn as the oracle: from the same weights, on the same data with the same settings, GradwiseClassifier
and GradwiseRegressor take the same steps as MLPClassifier and MLPRegressor."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor

from gradwise.sklearn import GradwiseClassifier, GradwiseRegressor

PAIRS = {"classifier": (GradwiseClassifier, MLPClassifier), "regressor": (GradwiseRegressor, MLPRegressor)}


def _digits(n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    x, y = load_digits(return_X_y=True)
    return x[:n] / 16, y[:n]


def _targets(kind: str, y: np.ndarray) -> np.ndarray:
    """Labels of each kind of problem built from the digit labels."""
    return {
        "multiclass": y,
        "binary": y % 2,
        "multilabel": np.column_stack([y % 2, y > 4, y % 3 == 0]).astype(int),
        "regression": np.column_stack([y / 9, np.sin(y)]),
    }[kind]


def _fit_both(kind: str, x, t, sample_weight=None, max_iter: int = 1, **settings):
    """Both estimators started from the same weights (drawn by neither: set through coefs_ / intercepts_ and
    warm_start), then fitted with ``settings``; returns (ours, theirs)."""
    ours_cls, theirs_cls = PAIRS["regressor" if kind == "regression" else "classifier"]
    fitted = []
    # Different seeds, so that only the copied weights make them agree; with early stopping the seed also
    # draws the validation split, which must be the same.
    seeds = (0, 0) if settings.get("early_stopping") else (1, 2)
    for cls, seed in zip((ours_cls, theirs_cls), seeds, strict=True):
        est = cls(hidden_layer_sizes=(12, 7), warm_start=True, shuffle=False, max_iter=1, random_state=seed)
        est.set_params(**settings)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(x, t)  # the layer sizes, classes and output activation
        fitted.append(est)
    rng = np.random.default_rng(0)
    coefs = [rng.normal(0, 0.3, c.shape) for c in fitted[1].coefs_]
    intercepts = [rng.normal(0, 0.1, b.shape) for b in fitted[1].intercepts_]
    for est in fitted:
        est.coefs_, est.intercepts_ = [c.copy() for c in coefs], [b.copy() for b in intercepts]
        est.set_params(max_iter=max_iter)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(x, t, sample_weight=sample_weight)
    return fitted


def _assert_same_weights(ours, theirs, rtol=1e-9, atol=1e-12):
    for a, b in zip([*ours.coefs_, *ours.intercepts_], [*theirs.coefs_, *theirs.intercepts_], strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel", "regression"])
@pytest.mark.parametrize(
    "settings",
    [
        {"solver": "sgd", "learning_rate_init": 0.1},
        {"solver": "sgd", "learning_rate_init": 0.1, "nesterovs_momentum": False, "learning_rate": "invscaling"},
        {"solver": "sgd", "learning_rate_init": 0.05, "learning_rate": "adaptive", "tol": 0.5, "n_iter_no_change": 1},
        {"solver": "adam", "learning_rate_init": 0.01, "alpha": 0.1, "batch_size": 64},
        {"solver": "adam", "learning_rate_init": 0.01, "early_stopping": True, "validation_fraction": 0.2},
    ],
    ids=["sgd-nesterov", "sgd-invscaling", "sgd-adaptive", "adam-alpha", "adam-early-stopping"],
)
def test_sgd_and_adam_take_scikit_learns_steps(kind, settings):
    x, y = _digits()
    ours, theirs = _fit_both(kind, x, _targets(kind, y), max_iter=6, **settings)
    _assert_same_weights(ours, theirs)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    # the first entries belong to the set-up fit from each one's own seed; the warm-started epochs follow
    np.testing.assert_allclose(ours.loss_curve_[1:], theirs.loss_curve_[1:], rtol=1e-10)
    assert (ours.validation_scores_ or [])[1:] == (theirs.validation_scores_ or [])[1:]
    assert ours._optimizer.learning_rate == pytest.approx(theirs._optimizer.learning_rate, rel=1e-12)


@pytest.mark.parametrize("kind", ["multiclass", "binary", "regression"])
def test_sample_weight_and_sparse_input_take_the_same_steps(kind):
    x, y = _digits()
    weights = np.random.default_rng(1).uniform(0.1, 2.0, len(x))
    ours, theirs = _fit_both(kind, scipy.sparse.csr_matrix(x), _targets(kind, y), sample_weight=weights,
                             solver="adam", learning_rate_init=0.01, max_iter=4)  # fmt: skip
    _assert_same_weights(ours, theirs)


@pytest.mark.parametrize("kind", ["multiclass", "binary", "multilabel", "regression"])
def test_lbfgs_reaches_scikit_learns_loss(kind):
    x, y = _digits()
    ours, theirs = _fit_both(kind, x, _targets(kind, y), solver="lbfgs", max_iter=40)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    assert ours.n_iter_ == theirs.n_iter_


def test_same_random_state_draws_scikit_learns_initial_weights_and_batches():
    # Not only from copied weights: the same random_state gives the same weights, shuffles and split.
    x, y = _digits(500)
    settings = {"hidden_layer_sizes": (20,), "max_iter": 8, "random_state": 3, "early_stopping": True}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours, theirs = GradwiseClassifier(**settings).fit(x, y), MLPClassifier(**settings).fit(x, y)
    _assert_same_weights(ours, theirs)
    np.testing.assert_array_equal(ours.predict_proba(x), theirs.predict_proba(x))
