"""A diagnosis's fix, written in gradwise's settings, as the estimators' ``set_params`` arguments."""

from __future__ import annotations

from typing import Any

from gradwise.health.diagnosis import Diagnosis
from gradwise.health.fixes import Fix
from gradwise.sklearn.activations import HIDDEN

# gradwise setting -> the estimators' parameter (scikit-learn's name for the same concept)
PARAMETER_OF_FIELD = {
    "hidden": "hidden_layer_sizes",
    "activation": "activation",
    "optimizer": "solver",
    "lr": "learning_rate_init",
    "momentum": "momentum",
    "weight_decay": "alpha",
    "batch_size": "batch_size",
    "epochs": "max_iter",
    "seed": "random_state",
    "monitor": "monitor",
}
ACTIVATION_OF = {a.gradwise_name: a.name for a in HIDDEN.values()}  # "sigmoid" -> "logistic"
# scikit-learn's MLP always draws Glorot-uniform weights (a sound start for relu too): an initializer in a fix
# has no parameter to go to, and the rest of the fix still applies
GLOROT_ONLY = ("init", "init_scale", "bias_init")
SOLVER_OF = {"adam": "adam", "sgd": "sgd", "momentum": "sgd", "nesterov": "sgd", "rmsprop": "rmsprop", "adamw": "adamw"}


def _value(field: str, value: Any, fix: Fix) -> Any:
    table = {"activation": ACTIVATION_OF, "optimizer": SOLVER_OF}.get(field)
    if table is None:
        return value
    if value not in table:
        raise ValueError(
            f"fix {fix.python()}: {field}={value!r} has no scikit-learn equivalent; one of {sorted(table)}"
        )
    return table[value]


def fix_params(fix: Diagnosis | Fix) -> dict[str, Any]:
    """A diagnosis's first fix (or a ``Fix``) as ``set_params`` arguments.

    ``est.set_params(**est.fix_params(est.diagnoses_[0]))``. ValueError for a fix that is no parameter change
    (unscaled inputs, for one: put a ``StandardScaler`` before the estimator).
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
            if value is None or field in GLOROT_ONLY:
                continue  # a setting back to its default, or an initializer (GLOROT_ONLY)
            advice = (
                "scale the inputs instead, e.g. make_pipeline(StandardScaler(), GradwiseClassifier())"
                if field == "normalize"
                else "scikit-learn's MLP has no such setting; train with gradwise train to change it"
            )
            raise ValueError(f"fix {fix.python()}: {field} has no estimator parameter; {advice}")
        params[PARAMETER_OF_FIELD[field]] = _value(field, value, fix)
    return params
