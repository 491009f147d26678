"""The health monitor judges a GradwiseRegressor run on regression's terms."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning

from gradwise.sklearn import GradwiseRegressor


@pytest.fixture(scope="module")
def diabetes() -> tuple[np.ndarray, np.ndarray]:
    """442 samples, 10 standardized features; targets 25..346 (mean 152, std 77)."""
    return load_diabetes(return_X_y=True)


def _fit(x, y, **params):
    reg = GradwiseRegressor(**{"hidden_layer_sizes": (16,), "max_iter": 30, "random_state": 0, **params})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return reg.fit(x, y)


def test_unscaled_targets_are_named_as_the_cause(diabetes):
    x, y = diabetes
    found = {d.symptom: d for d in _fit(x, y).diagnoses_}
    assert set(found) == {"unnormalized_input"}
    targets = found["unnormalized_input"]
    assert targets.cause.startswith("the targets are unscaled (mean or std up to 152)")
    assert targets.evidence["target_scale"] == pytest.approx(y.mean())
    assert "TransformedTargetRegressor" in targets.fix[0].advice
    with pytest.raises(ValueError, match="is advice, not a parameter change"):
        GradwiseRegressor.fix_params(targets)
    assert _fit(x, (y - y.mean()) / y.std()).diagnoses_ == []  # scaled: healthy


def test_chance_loss_is_half_the_target_variance_not_log_classes(diabetes):
    x, y = diabetes
    scaled = (y - y.mean()) / y.std()
    two = np.column_stack([scaled, 3 * scaled])  # variances 1 and 9: the chance loss of the mean is (1 + 9) / 4
    reg = _fit(x, two)
    assert reg._health.monitor.chance_loss == pytest.approx(2.5)
    assert reg.loss_ < 2.5  # it learned: below the loss of predicting the mean


def test_integer_targets_are_no_class_labels_to_a_regressor(diabetes):
    # Targets 0..9 look like labels to the classification checks (bad_labels); a regression is not judged so.
    x, _ = diabetes
    y = np.arange(len(x)) % 10
    assert "bad_labels" not in {d.symptom for d in _fit(x, y).diagnoses_}


def test_a_loss_that_turns_non_finite_is_diagnosed_once():
    # identity units and a rate of 1 on unscaled inputs: the loss overflows within the first epochs
    rng = np.random.default_rng(0)
    x, y = rng.normal(0, 50, (150, 4)), rng.normal(0, 1, 150)
    reg = GradwiseRegressor(hidden_layer_sizes=(50,), activation="identity", solver="sgd", learning_rate_init=1.0,
                            max_iter=5, random_state=0)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow, ConvergenceWarning
        with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
            reg.fit(x, y)
    blown = [d for d in reg.diagnoses_ if d.symptom == "non_finite"]
    assert len(blown) == 1 and blown[0].step >= 1 and blown[0].fix
