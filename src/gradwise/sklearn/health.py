"""gradwise's health monitor watching an estimator's run: ``diagnoses_``.

The monitor reads a gradwise ``Network``; here that network is a mirror whose Dense layers hold the
estimator's own ``coefs_`` / ``intercepts_`` arrays, so it sees every update without a copy. A regression
run is judged on regression's terms: its chance loss is half the targets' variance (the loss of predicting
their mean), and targets far from unit scale are named as a cause before training.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from gradwise.health.diagnosis import Diagnosis
from gradwise.health.explain import explain
from gradwise.health.fixes import Fix
from gradwise.nn.layers import Dense
from gradwise.nn.losses import Loss, get_loss
from gradwise.nn.network import Network, param_name
from gradwise.sklearn.activations import HIDDEN, OUTPUT
from gradwise.train.assembly import Watch, static_rows
from gradwise.train.config import TrainConfig

Array = np.ndarray
TARGET_SCALE_LIMIT = 10.0  # a target std or |mean| above this (in units of 1) is "unscaled"
# checks before training that read the targets as one-hot classes: not a regression's terms
CLASSIFICATION_ONLY = ("bad_labels", "bad_initial_loss")
# out_activation_ -> the gradwise loss it is paired with (exp + Poisson has no gradwise twin: no monitor)
GRADWISE_LOSS = {"softmax": "ce", "logistic": "bce", "identity": "mse"}


@dataclass
class _Watched:
    """What ``HealthMonitor.on_begin`` reads of a run."""

    net: Network
    loss: Loss
    batch_size: int | None


def _mirror(estimator: Any, dtype: np.dtype) -> Network:
    """A gradwise Network of the estimator's layer sizes; ``Health.attach`` points it at the real arrays."""
    rng = np.random.default_rng(0)  # its own weights are replaced at once: the draw does not matter
    sizes = [c.shape for c in estimator.coefs_]
    last = len(sizes) - 1
    return Network([
        Dense(n_in, n_out, (OUTPUT[estimator.out_activation_] if i == last else HIDDEN[estimator.activation])
              .gradwise_name, rng=rng, dtype=dtype)
        for i, (n_in, n_out) in enumerate(sizes)
    ])  # fmt: skip


def _config(estimator: Any, n_samples: int) -> TrainConfig:
    """The run in gradwise's vocabulary, so that causes and fixes name the settings to change."""
    solver = {"sgd": "nesterov" if estimator.nesterovs_momentum else "momentum", "lbfgs": "adam"}.get(
        estimator.solver, estimator.solver
    )
    return TrainConfig(
        hidden=tuple(c.shape[1] for c in estimator.coefs_[:-1]),
        activation=HIDDEN[estimator.activation].gradwise_name,
        output=OUTPUT[estimator.out_activation_].gradwise_name,
        loss=GRADWISE_LOSS[estimator.out_activation_],
        optimizer=solver,
        lr=float(estimator.learning_rate_init),
        monitor=True,
        momentum=float(estimator.momentum),
        weight_decay=float(estimator.alpha),
        schedule="constant",
        batch_size=int(min(200, n_samples) if isinstance(estimator.batch_size, str) else estimator.batch_size),
        epochs=int(estimator.max_iter),
        validation=0,
        preset="sklearn",
    )


class Health:
    """The monitor's hooks, called by the stochastic loop: ``probe``, ``gradients``, ``step``."""

    def __init__(self, estimator: Any, X: Any, y: Array) -> None:
        self.net = _mirror(estimator, estimator.coefs_[0].dtype)
        self.blew_up = False
        self.attach(estimator.coefs_, estimator.intercepts_)
        config = _config(estimator, X.shape[0])
        regression = estimator.out_activation_ == "identity"
        diagnoses = estimator.diagnoses_

        def report(diagnosis: Diagnosis) -> None:
            if not (regression and diagnosis.symptom in CLASSIFICATION_ONLY):
                diagnoses.append(diagnosis)

        watch = Watch.of(config, report)
        assert watch.monitor is not None  # config.monitor is on
        self.monitor = watch.monitor
        rows = static_rows(X.shape[0])
        x = X[rows]
        x = np.asarray(x.toarray() if hasattr(x, "toarray") else x, dtype=np.float64)
        watch.check_before_training(self.net, x, y[rows].astype(np.float64))
        self.monitor.on_begin(_Watched(self.net, get_loss(config.loss), config.batch_size))
        if regression:
            self._judge_as_regression(y)

    def _judge_as_regression(self, y: Array) -> None:
        # The monitor's chance level assumes one-hot classes; a regression's is the loss of predicting the mean.
        self.monitor.chance_loss = float(0.5 * np.var(y, axis=0).mean())
        scale = float(max(np.abs(y.mean(axis=0)).max(), y.std(axis=0).max()))
        if scale > TARGET_SCALE_LIMIT:
            self.monitor.add(
                Diagnosis(
                    "unnormalized_input", len(self.net.layers) - 1, 0, {"target_scale": scale},
                    f"the targets are unscaled (mean or std up to {scale:.3g}): the output layer must grow weights "
                    "that large, and the squared error's gradients are as large",
                    (Fix({}, "scale the targets: TransformedTargetRegressor(GradwiseRegressor(), "
                         "transformer=StandardScaler())"),),
                )
            )  # fmt: skip

    def attach(self, coefs: list[Array], intercepts: list[Array]) -> None:
        """Point the mirror at these arrays (after warm start, early stopping or weights set by hand)."""
        for layer, W, b in zip(self.net.layers, coefs, intercepts, strict=True):
            layer.params["W"], layer.params["b"] = W, b

    def probe(self, step: int) -> Any:
        return self.monitor.probe(step)

    def gradients(self, step: int, coef_grads: list[Array], intercept_grads: list[Array]) -> None:
        grads = {param_name(i, "W"): g for i, g in enumerate(coef_grads)}
        grads.update({param_name(i, "b"): g for i, g in enumerate(intercept_grads)})
        self.monitor.on_gradients(step, grads)

    def step(self, step: int, loss: float) -> None:
        if not math.isfinite(loss) and not self.blew_up:
            # The guard that says so in gradwise's own loop would stop or roll back; scikit-learn trains on
            # (and its non-finite weights raise at the end), so here the finding is only reported.
            self.blew_up = True
            cause, fix = explain("non_finite", None, self.monitor.settings)
            self.monitor.add(Diagnosis("non_finite", None, step, {"loss": str(loss)}, cause, fix))
        self.monitor.on_step(SimpleNamespace(step=step), loss)


def start_health(estimator: Any, X: Any, y: Array) -> Health | None:
    """The monitor for a fresh run (None for the Poisson loss, which gradwise has no twin of)."""
    if estimator.out_activation_ not in GRADWISE_LOSS:
        return None
    return Health(estimator, X, y)
