"""``GradwiseClassifier``: scikit-learn's ``MLPClassifier``, the same model trained the same way, diagnosed."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin  # type: ignore[import-untyped]
from sklearn.metrics import accuracy_score  # type: ignore[import-untyped]
from sklearn.preprocessing import LabelBinarizer  # type: ignore[import-untyped]
from sklearn.utils.metaestimators import available_if  # type: ignore[import-untyped]
from sklearn.utils.multiclass import type_of_target, unique_labels  # type: ignore[import-untyped]
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data  # type: ignore[import-untyped]

from gradwise.sklearn.base import MultilayerPerceptron
from gradwise.sklearn.fixes import fix_params
from gradwise.sklearn.params import keep_params

Array = np.ndarray


class GradwiseClassifier(ClassifierMixin, MultilayerPerceptron):  # type: ignore[misc]
    """A multilayer perceptron classifier: ``MLPClassifier``'s parameters, defaults, solvers and attributes.

    Swap the class name and the model is the same: the same random_state draws the same initial weights,
    ``solver`` is ``"lbfgs"`` (scipy's L-BFGS-B), ``"sgd"`` (momentum 0.9 with Nesterov) or ``"adam"``,
    ``alpha`` (1e-4) is L2 on the weights scaled by 1/(2 n_samples) per batch, and training stops when the
    loss (the validation accuracy with ``early_stopping``) has not improved by ``tol`` for
    ``n_iter_no_change`` epochs. See scikit-learn's ``MLPClassifier`` for every parameter.

    Multiclass y gets softmax outputs; binary y one logistic output; a multilabel indicator matrix one
    logistic output per label. X may be a scipy.sparse matrix; ``fit`` takes ``sample_weight``.

    gradwise adds ``monitor`` (default True): the health monitor and the checks before training watch the
    run, and ``diagnoses_`` holds what they found (empty when healthy); ``fix_params(diagnosis)`` turns a
    fix into ``set_params`` arguments.

    Attributes: ``classes_``, ``loss_``, ``best_loss_``, ``loss_curve_``, ``validation_scores_``,
    ``best_validation_score_``, ``t_``, ``coefs_`` (list of (n_in, n_out)), ``intercepts_`` (list of
    (n_out,)), ``n_features_in_``, ``feature_names_in_``, ``n_iter_``, ``n_layers_``, ``n_outputs_``,
    ``out_activation_``, ``diagnoses_``.
    """

    def __init__(
        self,
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

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> GradwiseClassifier:
        """Train on X (n_samples, n_features) and y (n_samples,) labels or (n_samples, n_labels) indicators."""
        self._fit(X, y, sample_weight, incremental=False)
        return self

    @available_if(lambda self: self._check_solver())  # type: ignore[untyped-decorator]
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None, classes: Any = None) -> GradwiseClassifier:
        """One epoch over (X, y), going on from the current weights; ``classes`` is needed on the first call."""
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit: every label y may hold")
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y if type_of_target(y).startswith("multilabel") else classes)
            self.classes_ = self._label_binarizer.classes_
        elif classes is not None and not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(
                f"classes={unique_labels(classes).tolist()} differs from classes_={self.classes_.tolist()} of "
                "the first call to partial_fit"
            )
        self._fit(X, y, sample_weight, incremental=True)
        return self

    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple[Any, Array]:
        X, y = validate_data(
            self, X, y, accept_sparse=["csr", "csc"], multi_output=True, dtype=(np.float64, np.float32), reset=reset
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
            if len(self.classes_) < 2:
                raise ValueError(
                    f"GradwiseClassifier needs at least 2 classes in y, got 1 class: {self.classes_.tolist()[0]!r}; "
                    "a classifier can't train when only one class is present"
                )
        else:
            _check_known_classes(unique_labels(y), self.classes_, self.warm_start)
        return X, self._label_binarizer.transform(y).astype(bool)

    def _output_activation(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _stratify_validation(self) -> bool:
        return bool(self.n_outputs_ == 1)  # scikit-learn stratifies the held-out part of a binary y only

    def _validation_targets(self, y: Array) -> Array:
        return self._label_binarizer.inverse_transform(y)  # type: ignore[no-any-return]

    # -- prediction ------------------------------------------------------------------------------
    def predict(self, X: Any) -> Array:
        """Labels (n_samples,), or an indicator matrix (n_samples, n_labels) for multilabel y."""
        check_is_fitted(self)
        return self._predict(X)

    def _predict(self, X: Any, check_input: bool = True) -> Array:
        out = self._forward_pass_fast(X, check_input=check_input)
        return self._label_binarizer.inverse_transform(out.ravel() if self.n_outputs_ == 1 else out)  # type: ignore[no-any-return]

    def _score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        return self._score_with(X, y, sample_weight, accuracy_score)

    def predict_proba(self, X: Any) -> Array:
        """Probabilities (n_samples, n_classes), columns in ``classes_`` order (two columns for binary y)."""
        check_is_fitted(self)
        out = self._forward_pass_fast(X)
        if self.n_outputs_ == 1:
            return np.column_stack([1 - out[:, 0], out[:, 0]])
        return out

    def predict_log_proba(self, X: Any) -> Array:
        """log(predict_proba(X)), (n_samples, n_classes)."""
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)  # type: ignore[no-any-return]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


def _check_known_classes(found: Array, classes: Array, warm_start: bool) -> None:
    if warm_start and set(found) != set(classes):
        raise ValueError(
            "warm_start can only be used where `y` has the same classes as in the previous call to fit. "
            f"Previously got {classes}, `y` has {found}"
        )
    unknown = np.setdiff1d(found, classes, assume_unique=True)
    if not warm_start and len(unknown):
        raise ValueError(
            f"`y` has classes not in `self.classes_`: {unknown.tolist()}; pass every label in classes= on the first "
            "call to partial_fit"
        )
