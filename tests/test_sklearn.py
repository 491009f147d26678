"""GradwiseClassifier: scikit-learn's own estimator checks, Pipeline, GridSearchCV, partial_fit, diagnoses."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from gradwise.health.fixes import Fix
from gradwise.sklearn import GradwiseClassifier
from gradwise.train.stopping import max_epochs

# scikit-learn's array-API check only skips itself here (SCIPY_ARRAY_API unset; array-API inputs are not
# supported), so it is left out rather than reported as skipped.
NOT_APPLICABLE = {"check_array_api_input"}


def _applicable(estimator, check):
    name = getattr(check, "func", check).__name__
    pandas_input = "pandas" in str(getattr(check, "keywords", {}).get("obj_type", "")).lower()
    return name not in NOT_APPLICABLE and not pandas_input


@parametrize_with_checks([GradwiseClassifier()], expected_failed_checks=None)
def test_scikit_learn_estimator_checks(estimator, check):
    if not _applicable(estimator, check):
        return  # see NOT_APPLICABLE
    if getattr(check, "func", check).__name__ == "check_classifier_data_not_an_array":
        # Its pandas half skips (no pandas here) and would hide its NotAnArray half: run that half alone.
        from sklearn.utils import estimator_checks

        x = np.array([[3, 0], [0, 1], [0, 2], [1, 1], [1, 2], [2, 1], [0, 3], [1, 0], [2, 0], [4, 4], [2, 3], [3, 2]])
        y = np.array([1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2])
        name = type(estimator).__name__
        estimator_checks.check_estimators_data_not_an_array(name, estimator, x.astype(float), y, "NotAnArray")
        return
    check(estimator)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    """300 samples (float64), 8 features, 3 classes named by strings."""
    x, y = make_classification(n_samples=300, n_features=8, n_informative=5, n_classes=3, random_state=0, class_sep=1.5)
    return x, np.array(["red", "green", "blue"])[y]


def small(**params: object) -> GradwiseClassifier:
    """A quick classifier: one layer of 16 units, 30 epochs, seeded."""
    return GradwiseClassifier(**{"hidden_layer_sizes": (16,), "max_iter": 30, "random_state": 0, **params})


def test_learns_string_labels_and_reports_them(data):
    x, y = data
    clf = small(learning_rate_init=0.01).fit(x, y)
    assert list(clf.classes_) == ["blue", "green", "red"]
    assert clf.n_features_in_ == 8 and clf.n_iter_ == len(clf.history_) == len(clf.loss_curve_)
    assert set(clf.predict(x)) <= {"blue", "green", "red"}
    assert clf.score(x, y) > 0.85
    proba = clf.predict_proba(x)
    assert proba.shape == (300, 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    assert clf.config_.hidden == (16,) and clf.config_.seed == 0


def test_float32_input_trains_in_float32(data):
    x, y = data
    clf = small(max_iter=2).fit(x.astype(np.float32), y)
    assert clf.net_.dtype == np.float32 and clf.predict_proba(x).dtype == np.float32


def test_same_random_state_same_numbers(data):
    x, y = data
    a, b = small(dropout=0.2).fit(x, y), small(dropout=0.2).fit(x, y)
    np.testing.assert_array_equal(a.predict_proba(x), b.predict_proba(x))
    assert a.loss_curve_ == b.loss_curve_
    c = small(dropout=0.2, random_state=1).fit(x, y)
    assert not np.array_equal(a.predict_proba(x), c.predict_proba(x))


def test_pipeline_and_grid_search(data):
    x, y = data
    pipe = make_pipeline(StandardScaler(), small())
    search = GridSearchCV(pipe, {"gradwiseclassifier__learning_rate_init": [1e-4, 1e-2]}, cv=2)
    search.fit(x, y)
    # 30 epochs of 1e-4 barely move the weights; 1e-2 learns.
    assert search.best_params_ == {"gradwiseclassifier__learning_rate_init": 1e-2}
    assert search.score(x, y) > 0.85


def test_partial_fit_continues_and_pickles(data):
    x, y = data
    clf = small()
    with pytest.raises(ValueError, match="classes must be passed on the first call to partial_fit"):
        clf.partial_fit(x, y)
    for _ in range(3):
        clf.partial_fit(x[:150], y[:150], classes=["red", "green", "blue"])
    assert clf.n_iter_ == 3 and clf.history_.last is not None and clf.history_.last.step == 3
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(x), clf.predict_proba(x))
    copy.partial_fit(x[150:], y[150:])
    clf.partial_fit(x[150:], y[150:])
    np.testing.assert_array_equal(copy.predict_proba(x), clf.predict_proba(x))  # the optimizer state travelled
    with pytest.raises(ValueError, match=r"y holds labels not in classes_: \['purple'\]; pass every label"):
        clf.partial_fit(x[:2], ["red", "purple"])
    with pytest.raises(ValueError, match="X has 3 features, but GradwiseClassifier is expecting 8 features"):
        clf.partial_fit(x[:2, :3], y[:2])


def test_early_stopping_and_stop_conditions(data):
    x, y = data
    clf = small(early_stopping=True, n_iter_no_change=2, tol=0.0, max_iter=200, learning_rate_init=0.05).fit(x, y)
    assert "val_loss did not improve for 2 epochs" in clf.history_.stop_reason
    assert not np.isnan(clf.history_.metric("val_loss")).any()
    assert small(stop=max_epochs(3)).fit(x, y).n_iter_ == 3
    assert small(tol=None, max_iter=4).fit(x, y).n_iter_ == 4


def test_the_seeds_mistakes_are_diagnosed_and_fixable(data):
    # The seed's network on pixel-like inputs: 100 features in [0, 1], so U(0, 1) weights give |z| ~ 25.
    pixels, labels = make_classification(n_samples=200, n_features=100, random_state=0)
    pixels = MinMaxScaler().fit_transform(pixels)
    seed = small(activation="sigmoid", output="softmax", loss="mse", init="uniform", solver="sgd")
    seed.fit(pixels, labels)
    found = {d.symptom: d for d in seed.diagnoses_}
    assert {"output_loss_mismatch", "saturation"} <= set(found)
    assert seed.fix_params(found["output_loss_mismatch"]) == {"loss": "ce"}
    assert seed.fix_params(found["saturation"]) == {"init": "glorot_uniform"}
    seed.set_params(**seed.fix_params(found["output_loss_mismatch"]), **seed.fix_params(found["saturation"]))
    assert not {"output_loss_mismatch", "saturation"} & {d.symptom for d in seed.fit(pixels, labels).diagnoses_}
    assert small(monitor=False).fit(*data).diagnoses_ == []


def test_fix_params_explains_what_is_no_parameter():
    # A fix is data: its changes map onto the estimator's parameters, no flag text is parsed.
    assert GradwiseClassifier.fix_params(Fix({"lr": 0.01, "hidden": (64, 32)})) == {
        "learning_rate_init": 0.01,
        "hidden_layer_sizes": (64, 32),
    }
    with pytest.raises(ValueError, match=r"normalize='unit': normalize has no GradwiseClassifier parameter; scale the"):
        GradwiseClassifier.fix_params(Fix({"normalize": "unit"}))
    with pytest.raises(ValueError, match="is advice, not a parameter change"):
        GradwiseClassifier.fix_params(Fix({}, "check the labels file"))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"learning_rate_init": -1.0}, "learning_rate_init must be > 0, got -1"),
        ({"learning_rate_init": "fast"}, "learning_rate_init must be a number, got 'fast'"),
        ({"learning_rate": 0.01}, "learning_rate names the schedule .* got 0.01; the rate itself is learning_rate_in"),
        ({"learning_rate": "adaptive"}, "learning_rate: unknown 'adaptive'; choose one of: constant"),
        ({"hidden_layer_sizes": (0,)}, r"hidden_layer_sizes: sizes must be >= 1, got \[0\]"),
        ({"activation": "swish"}, "activation: unknown activation 'swish'"),
        ({"solver": "lbfgs"}, "solver: unknown 'lbfgs'; choose one of: sgd, momentum"),
        ({"batch_size": 0}, "batch_size must be >= 1, got 0"),
        ({"max_iter": 2.5}, "max_iter must be an integer, got 2.5"),
        ({"dropout": 1.0}, r"dropout must be in \[0, 1\), got 1"),
        ({"stop": "never"}, "stop must be a gradwise StopCondition"),
        ({"early_stopping": True, "validation_fraction": 1.5}, r"validation_fraction must be in \(0, 1\), got 1.5"),
    ],
)
def test_bad_parameters_name_themselves(data, params, message):
    x, y = data
    with pytest.raises(ValueError, match=message):
        small(**params).fit(x, y)


def test_one_class_is_refused():
    with pytest.raises(ValueError, match="needs at least 2 classes in y, got 1 class: 'a'"):
        small().fit(np.zeros((4, 2)), ["a"] * 4)


def test_verbose_prints_epochs(data, capsys):
    x, y = data
    small(max_iter=2, tol=None, verbose=True).fit(x, y)
    out = capsys.readouterr().out
    assert "epoch 2: loss" in out and "stopped: reached 2 epochs" in out


def test_code_written_for_mlpclassifier_runs_with_a_changed_import(data):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    x, y = data
    shared = {
        "hidden_layer_sizes": (16,),
        "activation": "relu",
        "solver": "adam",
        "alpha": 1e-4,
        "batch_size": 32,
        "learning_rate": "constant",
        "learning_rate_init": 0.01,
        "max_iter": 5,
        "momentum": 0.9,
        "early_stopping": False,
        "random_state": 0,
    }
    assert set(shared) <= set(MLPClassifier().get_params()) & set(GradwiseClassifier().get_params())
    with pytest.warns(ConvergenceWarning):
        theirs = MLPClassifier(**shared).fit(x, y)
    ours = GradwiseClassifier(**shared).fit(x, y)
    assert ours.n_iter_ == theirs.n_iter_ == 5
    assert (ours.config_.optimizer, ours.config_.lr, ours.config_.weight_decay) == ("adam", 0.01, 1e-4)
    assert ours.score(x, y) > 0.8
    GradwiseClassifier(hidden_layer_sizes=(100,), learning_rate_init=0.01, max_iter=5).fit(x, y)


def test_learning_rate_names_the_schedule(data):
    x, y = data
    clf = small(learning_rate="cosine", max_iter=2, tol=None).fit(x, y)
    assert clf.config_.schedule == "cosine"
