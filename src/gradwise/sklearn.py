"""A scikit-learn classifier around gradwise: ``fit`` / ``predict`` / ``partial_fit``, diagnosed as it trains.

``GradwiseClassifier`` builds the same network, optimizer and training loop as ``gradwise train`` (its
``config_`` is the equivalent ``TrainConfig``), runs the health monitor and the non-finite guard as
callbacks, and keeps what they found in ``diagnoses_``. It needs scikit-learn, which gradwise itself does
not: ``pip install scikit-learn``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# scikit-learn ships no type information: its names are Any to mypy, hence the ignores.
try:
    from sklearn.base import BaseEstimator, ClassifierMixin  # type: ignore[import-untyped]
    from sklearn.model_selection import train_test_split  # type: ignore[import-untyped]
    from sklearn.utils import check_random_state  # type: ignore[import-untyped]
    from sklearn.utils.multiclass import check_classification_targets  # type: ignore[import-untyped]
    from sklearn.utils.validation import check_is_fitted, validate_data  # type: ignore[import-untyped]
except ImportError as error:  # pragma: no cover - scikit-learn is an optional dependency
    raise ImportError(
        f"gradwise.sklearn needs scikit-learn ({error}); install it with `pip install scikit-learn`"
    ) from None

from gradwise.data.datasets import one_hot
from gradwise.health.diagnosis import Diagnosis
from gradwise.health.fixes import Fix
from gradwise.nn.network import Network
from gradwise.seeds import dropout_rng
from gradwise.train.assembly import STATIC_SAMPLE, Watch, training_batches
from gradwise.train.callbacks import Callback, Run
from gradwise.train.config import ConfigError, TrainConfig, build_network, build_optimizer
from gradwise.train.history import EpochRecord, History
from gradwise.train.loop import fit
from gradwise.train.stopping import Progress, StopCondition, max_epochs, no_improvement

Array = np.ndarray

# TrainConfig field (the CLI flag without "--", dashes as underscores) -> GradwiseClassifier parameter: where
# MLPClassifier has the same concept, its name, so code written for it runs with a changed import.
PARAMETER_OF_FIELD = {
    "hidden": "hidden_layer_sizes",
    "activation": "activation",
    "output": "output",
    "loss": "loss",
    "init": "init",
    "optimizer": "solver",
    "lr": "learning_rate_init",
    "schedule": "learning_rate",
    "momentum": "momentum",
    "weight_decay": "alpha",
    "clip_norm": "clip_norm",
    "dropout": "dropout",
    "batch_size": "batch_size",
    "epochs": "max_iter",
    "seed": "random_state",
    "dtype": "dtype",
    "monitor": "monitor",
    "on_nan": "on_nan",
}
AUTO_BATCH = 200  # batch_size="auto": min(200, n_samples), as MLPClassifier


class GradwiseClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A multilayer perceptron classifier trained by gradwise, with the health monitor's diagnoses.

    Passes ``sklearn.utils.estimator_checks.check_estimator``. Parameters that ``MLPClassifier`` also has carry
    its names (``solver``, ``alpha``, ``learning_rate_init``, ``max_iter`` ...), so code written for it runs
    with a changed import; the defaults and solvers are gradwise's own. Left out: ``check_array_api_input``
    (array-API inputs are not supported) and the pandas half of ``check_classifier_data_not_an_array``
    (pandas is no dependency); both would only skip themselves here. ``predict_proba`` is in the
    network's dtype; binary problems get two softmax outputs.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int or int, default=(100,)
        Units of each hidden layer: ``(512, 256)`` is two layers; an int is one layer.
    activation : str, default="relu"
        Hidden activation, a name from ``gradwise.nn.ACTIVATIONS`` (``"leaky_relu:0.2"`` sets its slope).
    output, loss : str, default="softmax", "ce"
        Output activation and loss. ``softmax`` + ``ce`` and ``sigmoid`` + ``bce`` are fused; any other pair
        trains more slowly and the monitor says so (``softmax`` + ``mse`` is the seed's mismatch).
    init : str or None, default=None
        Weight initializer (``"glorot_uniform"``, ``"he_normal"``, ``"uniform"`` ...); None is He for the
        ReLU family and Glorot otherwise.
    solver : {"adam", "adamw", "sgd", "momentum", "nesterov", "rmsprop"}, default="adam"
        The optimizer. ``"sgd"`` is plain gradient descent (MLPClassifier's has Nesterov momentum: that is
        ``"nesterov"`` here); there is no ``"lbfgs"``.
    learning_rate : {"constant", "step", "exponential", "cosine"}, default="constant"
        The learning-rate schedule over ``max_iter`` epochs (``gradwise train --schedule``).
    learning_rate_init : float, default=1e-3
        The learning rate (the schedule's starting value).
    momentum : float, default=0.9
        The momentum of ``momentum``, ``nesterov`` and ``rmsprop``; ignored by the others.
    alpha : float, default=0.0
        L2 penalty: ``alpha * W`` added to the batch's mean gradient (decoupled in ``adamw``;
        ``gradwise train --weight-decay``).
    clip_norm : float or None, default=None
        Clip the gradients' global norm to this value.
    dropout : float, default=0.0
        Dropout probability after each hidden layer, in [0, 1).
    batch_size : int or "auto", default="auto"
        Samples per step; "auto" is ``min(200, n_samples)``.
    max_iter : int, default=200
        Passes over the training data in ``fit`` (``partial_fit`` makes one pass per call).
    tol : float or None, default=1e-4
        ``fit`` stops after ``n_iter_no_change`` epochs in which the training loss (the validation loss with
        ``early_stopping``) did not improve by more than ``tol``; None trains all ``max_iter``.
    n_iter_no_change : int, default=10
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified), stop on its loss and restore
        the weights of the best epoch.
    validation_fraction : float, default=0.1
    stop : gradwise StopCondition or None, default=None
        Replaces ``max_iter``, ``tol`` and ``n_iter_no_change`` in ``fit``, e.g.
        ``max_epochs(50) | time_budget(10)`` from ``gradwise.train.stopping``.
    monitor : bool, default=True
        Run the health monitor and the checks before training; what they find is ``diagnoses_``.
    on_nan : {"stop", "rollback", "skip"}, default="stop"
        What the non-finite guard does when the loss turns NaN or Inf or diverges.
    dtype : {"float32", "float64"} or None, default=None
        Computation dtype; None is float32 for float32 input and float64 otherwise.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the batch order and dropout. An int gives the same numbers as
        ``gradwise train --seed`` with the same configuration.
    verbose : bool, default=False
        Print one line per epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels (any sortable type: ints, strings ...); output unit i is ``classes_[i]``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X had string column names (a pandas DataFrame).
    net_ : gradwise.Network
        The trained network, n_features_in_ -> hidden_layer_sizes -> n_classes.
    config_ : gradwise.TrainConfig
        The run's settings in the CLI's vocabulary (``config_.to_json()`` is a ``gradwise train`` config).
    history_ : gradwise.History
        One record per epoch (``partial_fit`` calls add to it); ``history_.stop_reason`` says why it stopped.
    n_iter_ : int
        Epochs trained.
    loss_curve_ : list of float
        Mean training loss of each epoch.
    diagnoses_ : list of gradwise.Diagnosis
        What the health checks found (empty when healthy): symptom, layer, onset step, evidence, cause and
        fixes as CLI flags; ``fix_params(diagnosis)`` turns a fix into ``set_params`` arguments.
    """

    def __init__(
        self,
        hidden_layer_sizes: tuple[int, ...] | int = (100,),
        activation: str = "relu",
        output: str = "softmax",
        loss: str = "ce",
        init: str | None = None,
        solver: str = "adam",
        learning_rate: str = "constant",
        learning_rate_init: float = 1e-3,
        momentum: float = 0.9,
        alpha: float = 0.0,
        clip_norm: float | None = None,
        dropout: float = 0.0,
        batch_size: int | str = "auto",
        max_iter: int = 200,
        tol: float | None = 1e-4,
        n_iter_no_change: int = 10,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        stop: StopCondition | None = None,
        monitor: bool = True,
        on_nan: str = "stop",
        dtype: str | None = None,
        random_state: int | np.random.RandomState | None = None,
        verbose: bool = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.output = output
        self.loss = loss
        self.init = init
        self.solver = solver
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.momentum = momentum
        self.alpha = alpha
        self.clip_norm = clip_norm
        self.dropout = dropout
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.stop = stop
        self.monitor = monitor
        self.on_nan = on_nan
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    # -- training ------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> GradwiseClassifier:
        """Train from fresh weights on X (n_samples, n_features) numbers and y (n_samples,) labels."""
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32))
        check_classification_targets(y)
        classes, labels = np.unique(y, return_inverse=True)
        self._begin(X, classes)
        validation = None
        if self.early_stopping:
            X, labels, validation = self._hold_out(X, labels)
        self._check_before_training(X, labels)
        self._train(X, labels, self._stop_condition(), validation)
        return self

    def partial_fit(self, X: Any, y: Any, classes: Any = None) -> GradwiseClassifier:
        """One pass over X (n_samples, n_features), y (n_samples,); continues the weights and optimizer state.

        ``classes`` (every label that will ever appear) is required on the first call.
        """
        first = not hasattr(self, "net_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit: every label y may hold")
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32), reset=first)
        check_classification_targets(y)
        if first:
            self._begin(X, np.unique(classes))
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                f"classes={np.unique(classes).tolist()} differs from classes_={self.classes_.tolist()} of earlier calls"
            )
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            raise ValueError(
                f"y holds labels not in classes_: {np.unique(y[unknown]).tolist()}; pass every label in classes= on "
                "the first call"
            )
        labels = np.searchsorted(self.classes_, y)
        if first:
            self._check_before_training(X, labels)
        self._train(X, labels, max_epochs(self._run.epoch + 1), None)
        return self

    def _begin(self, X: Array, classes: Array) -> None:
        """Fresh network, optimizer state, monitor and guard for data X (n_samples, n_features)."""
        if len(classes) < 2:
            raise ValueError(
                f"GradwiseClassifier needs at least 2 classes in y, got 1 class: {classes.tolist()[0]!r}; a classifier "
                "can't train when only one class is present"
            )
        self.config_ = self._config(X)
        self.classes_ = classes
        self.net_: Network = build_network(self.config_, X.shape[1], len(classes))
        self._run = Run({})  # the optimizer state is filled on the first pass
        self._rng = dropout_rng(self.config_.seed)
        self.history_ = self._run.history
        self.diagnoses_: list[Diagnosis] = []
        self._start_health()

    def _start_health(self) -> None:
        """The health monitor (unless monitor=False), the non-finite guard and the flow; they report to diagnoses_."""
        self._watch = Watch.of(self.config_, self.diagnoses_.append)

    def _check_before_training(self, X: Array, labels: Array) -> None:
        x = np.asarray(X[:STATIC_SAMPLE], dtype=self.net_.dtype)
        t = one_hot(labels[:STATIC_SAMPLE], len(self.classes_), self.net_.dtype)
        self._watch.check_before_training(self.net_, x, t)

    def _train(self, X: Array, labels: Array, stop: StopCondition, validation: tuple[Array, Array] | None) -> None:
        config = self.config_
        x = np.asarray(X, dtype=self.net_.dtype)
        t = one_hot(labels, len(self.classes_), self.net_.dtype)
        batches = training_batches(config, x, t)
        optimizer = build_optimizer(config, len(batches))
        if not self._run.opt_state:
            self._run.opt_state = optimizer.init(self.net_.params)
        callbacks: list[Any] = [*self._watch.callbacks, _EpochPrinter() if self.verbose else None]
        fit(
            self.net_,
            config.loss,
            optimizer,
            batches,
            stop,
            validation=validation,
            callbacks=[c for c in callbacks if c is not None],
            rng=self._rng,
            run=self._run,
            progress=False,  # an estimator is quiet, as scikit-learn's are
        )
        self.n_iter_ = len(self.history_)
        self.loss_curve_ = self.history_.metric("train_loss")

    def _hold_out(self, X: Array, labels: Array) -> tuple[Array, Array, tuple[Array, Array]]:
        """Split off ``validation_fraction`` of the rows, stratified when every class has two samples."""
        fraction = _number("validation_fraction", self.validation_fraction)
        if not 0 < fraction < 1:
            raise ValueError(f"validation_fraction must be in (0, 1), got {fraction:g}")
        stratify = labels if np.bincount(labels).min() >= 2 else None
        try:
            x_train, x_val, l_train, l_val = train_test_split(
                X, labels, test_size=fraction, random_state=self.config_.seed, stratify=stratify
            )
        except ValueError as error:
            raise ValueError(f"early_stopping: cannot hold out {fraction:g} of {len(X)} samples: {error}") from None
        t_val = one_hot(l_val, len(self.classes_), self.net_.dtype)
        return x_train, l_train, (np.asarray(x_val, dtype=self.net_.dtype), t_val)

    def _stop_condition(self) -> StopCondition:
        if self.stop is not None:
            if not isinstance(self.stop, StopCondition):
                raise ValueError(f"stop must be a gradwise StopCondition such as max_epochs(10), got {self.stop!r}")
            return self.stop
        stop: StopCondition = max_epochs(self.config_.epochs)
        if self.tol is not None:
            tol = _number("tol", self.tol)
            patience = _count("n_iter_no_change", self.n_iter_no_change)
            if not tol >= 0:
                raise ValueError(f"tol must be >= 0 or None, got {tol:g}")
            metric = "val_loss" if self.early_stopping else "train_loss"
            stop = stop | no_improvement(patience, tol, metric, restore_best=bool(self.early_stopping))
        return stop

    def _config(self, X: Array) -> TrainConfig:
        """The parameters as a validated TrainConfig; errors name the parameter, not the CLI flag."""
        hidden = self.hidden_layer_sizes
        hidden = (hidden,) if isinstance(hidden, int | np.integer) else hidden
        auto = isinstance(self.batch_size, str) and self.batch_size == "auto"
        dtype = self.dtype if self.dtype is not None else ("float32" if X.dtype == np.float32 else "float64")
        try:
            return TrainConfig(
                hidden=tuple(_count("hidden_layer_sizes", h) for h in hidden),
                activation=self.activation,
                output=self.output,
                loss=self.loss,
                init=self.init,
                optimizer=self.solver,
                lr=_number("learning_rate_init", self.learning_rate_init),
                schedule=_schedule(self.learning_rate),
                momentum=_number("momentum", self.momentum),
                weight_decay=_number("alpha", self.alpha),
                clip_norm=None if self.clip_norm is None else _number("clip_norm", self.clip_norm),
                dropout=_number("dropout", self.dropout),
                batch_size=min(AUTO_BATCH, len(X)) if auto else _count("batch_size", self.batch_size),
                epochs=_count("max_iter", self.max_iter),
                seed=_seed(self.random_state),
                dtype=dtype,
                monitor=bool(self.monitor),
                on_nan=self.on_nan,
                validation=0,
                preset="sklearn",
            )
        except (ConfigError, TypeError, AttributeError) as error:
            raise ValueError(error.phrased(_parameter_name) if isinstance(error, ConfigError) else str(error)) from None

    # -- prediction ----------------------------------------------------------------------------
    def predict_proba(self, X: Any) -> Array:
        """Class probabilities (n_samples, n_classes) in the network's dtype; columns follow ``classes_``.

        The softmax output as it is; any other output is clipped at 0 and scaled to sum to 1 per row.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        out = self.net_.predict(np.asarray(X, dtype=self.net_.dtype))
        activation = self.net_.output_activation
        if activation is not None and activation.name == "softmax":
            return out
        out = np.clip(out, 0, None)
        total = out.sum(axis=1, keepdims=True)
        proba: Array = np.where(total > 0, out / np.where(total > 0, total, 1), 1 / out.shape[1]).astype(out.dtype)
        return proba

    def predict(self, X: Any) -> Array:
        """The most probable class of each row of X (n_samples, n_features): (n_samples,) of ``classes_``' type."""
        check_is_fitted(self)
        return self.classes_[self.predict_proba(X).argmax(axis=1)]  # type: ignore[no-any-return]

    # -- diagnoses -----------------------------------------------------------------------------
    @staticmethod
    def fix_params(fix: Diagnosis | Fix) -> dict[str, Any]:
        """A diagnosis's first fix (or a ``Fix``) as ``set_params`` arguments, from its structured changes.

        ``clf.set_params(**clf.fix_params(clf.diagnoses_[0]))``. Raises ValueError for a fix that is not a
        parameter change (input scaling, for one: put a ``StandardScaler`` before the classifier).
        """
        if isinstance(fix, Diagnosis):
            if not fix.fix:
                raise ValueError(f"{fix.headline()} proposes no fix")
            fix = fix.fix[0]
        if not fix.changes:
            raise ValueError(f"fix {fix.advice!r} is advice, not a parameter change")
        params = {}
        for field, value in fix.changes.items():
            if field not in PARAMETER_OF_FIELD:
                if value is None:
                    continue  # a setting back to its default (e.g. init_scale with a new init)
                advice = (
                    "scale the inputs instead, e.g. make_pipeline(StandardScaler(), GradwiseClassifier())"
                    if field == "normalize"
                    else "set it through gradwise.train.config.TrainConfig and gradwise train instead"
                )
                raise ValueError(
                    f"fix {fix.python()}: {field} has no GradwiseClassifier parameter; {advice}"
                )
            params[PARAMETER_OF_FIELD[field]] = value
        return params

    # -- pickling: a network holds closures (activations), so it travels as its weights ---------------------
    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        net = state.pop("net_", None)
        if net is not None:
            state["_weights"] = {name: value.copy() for name, value in net.params.items()}
        state.pop("_watch", None)  # holds the network; partial_fit after unpickling starts a new monitor
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        weights = state.pop("_weights", None)
        super().__setstate__(state)
        if weights is not None:
            self.net_ = build_network(self.config_, self.n_features_in_, len(self.classes_))
            for name, value in weights.items():
                self.net_.params[name][...] = value
            self._start_health()


class _EpochPrinter(Callback):
    """``verbose=True``: one line per epoch."""

    def on_epoch(self, progress: Progress, record: EpochRecord) -> None:
        val = "" if math.isnan(record.val_loss) else f", validation loss {record.val_loss:.4f}"
        print(f"epoch {record.epoch}: loss {record.train_loss:.4f}, accuracy {record.train_accuracy:.4f}{val}")

    def on_end(self, history: History) -> None:
        print(f"stopped: {history.stop_reason}")


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return int(value)


def _schedule(learning_rate: Any) -> str:
    """``learning_rate`` names the schedule, as in MLPClassifier; a number there is a rate in the wrong place."""
    if not isinstance(learning_rate, str):
        raise ValueError(
            f"learning_rate names the schedule (constant, step, exponential or cosine), as in MLPClassifier, "
            f"got {learning_rate!r}; the rate itself is learning_rate_init"
        )
    return learning_rate


def _seed(random_state: Any) -> int:
    """An int random_state is the seed itself (as ``gradwise train --seed``); otherwise draw one from it."""
    if isinstance(random_state, int | np.integer) and not isinstance(random_state, bool) and random_state >= 0:
        return int(random_state)
    return int(check_random_state(random_state).randint(0, 2**31 - 1))


def _parameter_name(field: str) -> str:
    """A ``TrainConfig`` field as this class's parameter (``lr`` -> ``learning_rate_init``)."""
    return PARAMETER_OF_FIELD.get(field, field)
