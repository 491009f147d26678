"""The constructor parameters of both estimators, checked at fit time: one clear line per bad value."""

from __future__ import annotations

import math
import numbers
from typing import Any

from gradwise.sklearn.activations import HIDDEN
from gradwise.sklearn.extra_solvers import EXTRA_SOLVERS

SOLVERS = ("lbfgs", "sgd", "adam", *EXTRA_SOLVERS)
SCHEDULES = ("constant", "invscaling", "adaptive")


def _real(name: str, value: Any, low: float, high: float = math.inf, *, low_open: bool = False,
          high_open: bool = False) -> None:  # fmt: skip
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    too_low = number <= low if low_open else number < low
    too_high = number >= high if high_open else number > high
    if too_low or too_high or math.isnan(number):
        left, right = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{name} must be in {left}{low:g}, {high:g}{right}, got {value!r}")


def _integer(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def _flag(name: str, value: Any) -> None:
    if not isinstance(value, bool | int) or value not in (0, 1):
        raise ValueError(f"{name} must be True or False, got {value!r}")


def hidden_sizes(value: Any) -> list[int]:
    """hidden_layer_sizes as a list: an int is one layer; every size must be >= 1."""
    sizes = list(value) if hasattr(value, "__iter__") else [value]
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral):
            raise ValueError(f"hidden_layer_sizes must hold integers, got {value!r}")
    if any(size <= 0 for size in sizes):
        raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
    return [int(size) for size in sizes]


def check_params(estimator: Any) -> None:
    """ValueError naming the first parameter that scikit-learn's MLP would refuse too."""
    e = estimator
    hidden_sizes(e.hidden_layer_sizes)
    _choice("activation", e.activation, tuple(HIDDEN))
    _choice("solver", e.solver, SOLVERS)
    _choice("learning_rate", e.learning_rate, SCHEDULES)
    _real("alpha", e.alpha, 0)
    if not (isinstance(e.batch_size, str) and e.batch_size == "auto"):
        _integer("batch_size", e.batch_size, 1)
    _real("learning_rate_init", e.learning_rate_init, 0, low_open=True)
    _real("power_t", e.power_t, 0)
    _integer("max_iter", e.max_iter, 1)
    _real("tol", e.tol, 0)
    _real("momentum", e.momentum, 0, 1)
    _real("validation_fraction", e.validation_fraction, 0, 1, high_open=True)
    _real("beta_1", e.beta_1, 0, 1, high_open=True)
    _real("beta_2", e.beta_2, 0, 1, high_open=True)
    _real("epsilon", e.epsilon, 0, low_open=True)
    if not (isinstance(e.n_iter_no_change, float) and math.isinf(e.n_iter_no_change)):
        _integer("n_iter_no_change", e.n_iter_no_change, 1)
    _integer("max_fun", e.max_fun, 1)
    for flag in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping", "monitor"):
        _flag(flag, getattr(e, flag))


def keep_params(estimator: Any, arguments: dict[str, Any]) -> None:
    """Store the constructor's arguments unchanged under their own names, as scikit-learn requires."""
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)
