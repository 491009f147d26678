"""GradwiseClassifier / GradwiseRegressor: scikit-learn's estimator checks, Pipeline, GridSearchCV, partial_fit,
diagnoses and the errors for bad parameters. Oracle tests against scikit-learn are in test_sklearn_oracle.py."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from gradwise.health.fixes import Fix
from gradwise.sklearn import GradwiseClassifier, GradwiseRegressor

# Checks that only skip themselves here, so they are left out rather than reported as skipped: array-API
# input (SCIPY_ARRAY_API unset), pandas input (pandas is no dependency) and the multilabel decision_function
# format (these estimators have no decision_function, as MLPClassifier has none).
NOT_APPLICABLE = {
    "check_array_api_input",
    "check_sample_weights_pandas_series",
    "check_classifiers_multilabel_output_format_decision_function",
}
NOT_AN_ARRAY = {"check_classifier_data_not_an_array", "check_regressor_data_not_an_array"}


def _applicable(check) -> bool:
    name = getattr(check, "func", check).__name__
    pandas_input = "pandas" in str(getattr(check, "keywords", {}).get("obj_type", "")).lower()
    return name not in NOT_APPLICABLE and not pandas_input


@parametrize_with_checks([GradwiseClassifier(), GradwiseRegressor()], expected_failed_checks=None)
def test_scikit_learn_estimator_checks(estimator, check):
    if not _applicable(check):
        return  # see NOT_APPLICABLE
    if getattr(check, "func", check).__name__ in NOT_AN_ARRAY:
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
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(30\) reached"):
        clf = small(learning_rate_init=0.01).fit(x, y)
    assert list(clf.classes_) == ["blue", "green", "red"]
    assert clf.n_features_in_ == 8 and clf.n_iter_ == len(clf.loss_curve_) == 30 and clf.t_ == 30 * 300
    assert (clf.n_layers_, clf.n_outputs_, clf.out_activation_) == (3, 3, "softmax")
    assert [c.shape for c in clf.coefs_] == [(8, 16), (16, 3)] and [b.shape for b in clf.intercepts_] == [(16,), (3,)]
    assert set(clf.predict(x)) <= {"blue", "green", "red"}
    assert clf.score(x, y) > 0.85
    proba = clf.predict_proba(x)
    assert proba.shape == (300, 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(clf.predict_log_proba(x), np.log(proba))
    assert clf.best_loss_ == min(clf.loss_curve_) and clf.loss_ == clf.loss_curve_[-1]


def test_float32_input_trains_in_float32(data):
    x, y = data
    clf = small(max_iter=2).fit(x.astype(np.float32), y)
    assert clf.coefs_[0].dtype == np.float32 and clf.predict_proba(x.astype(np.float32)).dtype == np.float32


def test_same_random_state_same_numbers(data):
    x, y = data
    a, b = small().fit(x, y), small().fit(x, y)
    np.testing.assert_array_equal(a.predict_proba(x), b.predict_proba(x))
    assert a.loss_curve_ == b.loss_curve_
    c = small(random_state=1).fit(x, y)
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
    # As scikit-learn: each call is one epoch (n_iter_ 1), t_ counts every sample seen.
    assert clf.n_iter_ == 1 and clf.t_ == 450 and len(clf.loss_curve_) == 3
    copy = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(copy.predict_proba(x), clf.predict_proba(x))
    copy.partial_fit(x[150:], y[150:])
    clf.partial_fit(x[150:], y[150:])
    np.testing.assert_array_equal(copy.predict_proba(x), clf.predict_proba(x))  # the optimizer state travelled
    with pytest.raises(ValueError, match=r"`y` has classes not in `self.classes_`: \['purple'\]; pass every label"):
        clf.partial_fit(x[:2], ["red", "purple"])
    with pytest.raises(ValueError, match="X has 3 features, but GradwiseClassifier is expecting 8 features"):
        clf.partial_fit(x[:2, :3], y[:2])
    assert not hasattr(small(solver="lbfgs"), "partial_fit")  # as MLPClassifier: lbfgs is no stochastic solver


def test_early_stopping_watches_the_validation_score(data):
    x, y = data
    clf = small(early_stopping=True, n_iter_no_change=2, tol=0.01, max_iter=200, learning_rate_init=0.05).fit(x, y)
    assert len(clf.validation_scores_) == clf.n_iter_ < 200 and clf.best_loss_ is None
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    # it stopped 3 epochs (n_iter_no_change + 1) after the best score, whose weights it kept
    assert clf.n_iter_ - 1 - int(np.argmax(clf.validation_scores_)) == 3


def test_a_broken_configuration_is_diagnosed_and_fixable():
    # Raw digit pixels (0..16) into logistic units: z ~ 100, the units saturate from the first step.
    x, y = load_digits(return_X_y=True)
    broken = GradwiseClassifier(activation="logistic", solver="sgd", learning_rate_init=0.01, max_iter=10,
                                random_state=0)  # fmt: skip
    with pytest.warns(ConvergenceWarning):
        broken.fit(x * 16, y)
    found = {d.symptom: d for d in broken.diagnoses_}
    assert {"unnormalized_input", "saturation"} <= set(found)
    with pytest.raises(ValueError, match="normalize has no estimator parameter; scale the inputs instead"):
        broken.fix_params(found["unnormalized_input"])
    assert broken.fix_params(found["saturation"]) == {"activation": "relu"}  # its Glorot init stays
    fixed = make_pipeline(StandardScaler(), broken.set_params(**broken.fix_params(found["saturation"])))
    with pytest.warns(ConvergenceWarning):
        fixed.fit(x, y)
    assert fixed[-1].diagnoses_ == [] and fixed.score(x, y) > 0.95
    assert GradwiseClassifier(monitor=False, max_iter=2).fit(x * 16, y).diagnoses_ == []


def test_fix_params_explains_what_is_no_parameter():
    # A fix is data: its changes map onto the estimator's parameters, no flag text is parsed.
    assert GradwiseClassifier.fix_params(Fix({"lr": 0.01, "hidden": (64, 32), "optimizer": "nesterov"})) == {
        "learning_rate_init": 0.01,
        "hidden_layer_sizes": (64, 32),
        "solver": "sgd",
    }
    with pytest.raises(ValueError, match=r"normalize='unit': normalize has no estimator parameter; scale the"):
        GradwiseClassifier.fix_params(Fix({"normalize": "unit"}))
    with pytest.raises(ValueError, match="is advice, not a parameter change"):
        GradwiseClassifier.fix_params(Fix({}, "check the labels file"))
    with pytest.raises(ValueError, match=r"activation='elu' has no scikit-learn equivalent; one of \['identity'"):
        GradwiseClassifier.fix_params(Fix({"activation": "elu"}))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"learning_rate_init": -1.0}, r"learning_rate_init must be in \(0, inf\], got -1.0"),
        ({"learning_rate_init": "fast"}, "learning_rate_init must be a number, got 'fast'"),
        ({"learning_rate": 0.01}, "learning_rate must be one of constant, invscaling, adaptive; got 0.01"),
        ({"learning_rate": "cosine"}, "learning_rate must be one of constant, invscaling, adaptive; got 'cosine'"),
        ({"hidden_layer_sizes": (0,)}, r"hidden_layer_sizes must be > 0, got \[0\]"),
        ({"activation": "swish"}, "activation must be one of identity, logistic, tanh, relu; got 'swish'"),
        ({"solver": "lion"}, "solver must be one of lbfgs, sgd, adam, rmsprop, adamw; got 'lion'"),
        ({"batch_size": 0}, "batch_size must be >= 1, got 0"),
        ({"max_iter": 2.5}, "max_iter must be an integer, got 2.5"),
        ({"momentum": 1.5}, r"momentum must be in \[0, 1\], got 1.5"),
        ({"n_iter_no_change": 0}, "n_iter_no_change must be >= 1, got 0"),
        ({"early_stopping": True, "validation_fraction": 1.5}, r"validation_fraction must be in \[0, 1\), got 1.5"),
    ],
)
def test_bad_parameters_name_themselves(data, params, message):
    x, y = data
    with pytest.raises(ValueError, match=message):
        small(**params).fit(x, y)


def test_one_class_is_refused():
    with pytest.raises(ValueError, match="needs at least 2 classes in y, got 1 class: 'a'"):
        small().fit(np.zeros((4, 2)), ["a"] * 4)


def test_verbose_prints_scikit_learns_lines(data, capsys):
    x, y = data
    clf = small(max_iter=2, verbose=True, early_stopping=True)
    with pytest.warns(ConvergenceWarning):
        clf.fit(x, y)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"Iteration 1, loss = {clf.loss_curve_[0]:.8f}"
    assert lines[1] == f"Validation score: {clf.validation_scores_[0]:f}"


def test_regressor_fits_several_targets_and_scores_r2():
    x, _ = make_classification(n_samples=200, n_features=5, random_state=0)
    targets = np.column_stack([x[:, 0] + x[:, 1], x[:, 2] - x[:, 3]])
    reg = GradwiseRegressor(hidden_layer_sizes=(32,), solver="lbfgs", max_iter=300, random_state=0).fit(x, targets)
    assert reg.predict(x).shape == (200, 2) and reg.out_activation_ == "identity" and reg.n_outputs_ == 2
    assert reg.score(x, targets) > 0.95
    assert GradwiseRegressor(max_iter=3, random_state=0).fit(x, targets[:, 0]).predict(x).shape == (200,)


@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor"])
def test_same_constructor_and_method_signatures_as_scikit_learn(name):
    import inspect

    import sklearn.neural_network

    theirs = getattr(sklearn.neural_network, name)
    ours = {"MLPClassifier": GradwiseClassifier, "MLPRegressor": GradwiseRegressor}[name]

    def parameters(function):  # names, kinds and defaults; the annotations are gradwise's own
        return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]

    mine = parameters(ours.__init__)
    assert mine.pop() == ("monitor", inspect.Parameter.KEYWORD_ONLY, True)  # gradwise's one addition
    assert mine == parameters(theirs.__init__)
    for method in ("fit", "partial_fit", "predict", "predict_proba", "score"):
        if hasattr(theirs, method):
            assert parameters(getattr(ours, method)) == parameters(getattr(theirs, method)), method


@pytest.mark.parametrize("solver", ["rmsprop", "adamw"])
def test_gradwise_optimizers_stay_as_extra_solvers(solver):
    x, y = load_digits(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    with pytest.warns(ConvergenceWarning):
        clf = GradwiseClassifier(solver=solver, max_iter=10, random_state=0).fit(x, y)
    assert clf.score(x, y) > 0.95 and hasattr(clf, "partial_fit")


def test_adamw_decays_the_weights_itself():
    # adamw's alpha is its decoupled weight decay, not an L2 term in the loss: a large alpha shrinks the weights
    # and leaves the reported loss the data's own (plain cross-entropy, as with alpha 0).
    x, y = load_digits(return_X_y=True)
    x = StandardScaler().fit_transform(x)
    runs = {}
    for alpha in (0.0, 5.0):
        with pytest.warns(ConvergenceWarning):
            runs[alpha] = GradwiseClassifier(solver="adamw", alpha=alpha, max_iter=3, random_state=0).fit(x, y)
    norm = {alpha: sum(float(np.vdot(w, w)) for w in clf.coefs_) for alpha, clf in runs.items()}
    assert norm[5.0] < 0.9 * norm[0.0]  # 27 steps, each shrinking W by lr * alpha = 0.5 %
    # with alpha in the loss, the first epoch would report alpha/2 ||W||^2 / n more: 2.5 * 98 / 200, about 1.2
    assert runs[5.0].loss_curve_[0] - runs[0.0].loss_curve_[0] < 0.01


def test_bad_targets_and_classes_name_themselves(data):
    x, y = data
    with pytest.raises(ValueError, match=r"loss='poisson' needs targets y >= 0; got negative values"):
        GradwiseRegressor(loss="poisson", max_iter=1).fit(x, x[:, 0])
    with pytest.raises(ValueError, match=r"loss must be one of squared_error, poisson; got 'huber'"):
        GradwiseRegressor(loss="huber", max_iter=1).fit(x, x[:, 0])
    clf = small().partial_fit(x, y, classes=["red", "green", "blue"])
    with pytest.raises(ValueError, match=r"classes=\['blue', 'red'\] differs from classes_=\['blue', 'green', 'red'\]"):
        clf.partial_fit(x, y, classes=["red", "blue"])
