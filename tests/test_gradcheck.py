import dataclasses

import numpy as np
import pytest

from gradwise.cli.main import main
from gradwise.health.gradcheck import TOLERANCE, check_all, gradcheck, relative_error
from gradwise.nn.activations import ACTIVATIONS
from gradwise.nn.layers import Dense, Dropout
from gradwise.nn.network import Network, mlp


def test_every_activation_loss_and_depth_passes():
    cases = list(check_all(seed=3))
    assert len(cases) == len(ACTIVATIONS) * 10 * 3
    worst = max(cases, key=lambda c: c.worst)
    assert worst.worst < TOLERANCE, worst


def test_a_wrong_derivative_is_caught(rng):
    # tanh with the derivative of the logistic: plausible-looking and wrong.
    wrong = dataclasses.replace(ACTIVATIONS["tanh"], backward=lambda z, a, da: da * a * (1 - a))
    net = Network(
        [Dense(4, 5, wrong, rng=rng, dtype=np.float64), Dense(5, 3, "softmax", rng=rng, dtype=np.float64)]
    )
    errors = gradcheck(net, "ce", rng.normal(size=(3, 4)), np.eye(3)[[0, 1, 2]])
    assert errors["0.W"] > 1e-2 and errors["0.b"] > 1e-2
    assert errors["1.W"] < TOLERANCE  # the layer above the mistake is still right


def test_a_missing_batch_mean_is_caught(rng):
    net = mlp([3, 4, 2], "sigmoid", "identity", rng=rng, dtype=np.float64)
    from gradwise.nn.losses import Loss, mse

    summed = Loss("mse_wrong", lambda y, t: (mse(y, t)[0], y - t))  # forgot the 1/B
    errors = gradcheck(net, summed, rng.normal(size=(4, 3)), rng.normal(size=(4, 2)))
    assert min(errors.values()) > 0.5


def test_dropout_network_is_checked_with_fixed_masks(rng):
    net = Network(
        [
            Dense(5, 6, "tanh", rng=rng, dtype=np.float64),
            Dropout(0.3),
            Dense(6, 3, "softmax", rng=rng, dtype=np.float64),
        ]
    )
    errors = gradcheck(net, "ce", rng.normal(size=(4, 5)), np.eye(3)[[0, 2, 1, 1]], seed=11)
    assert max(errors.values()) < TOLERANCE


def test_float32_networks_are_refused(rng):
    with pytest.raises(ValueError, match="needs a float64 network"):
        gradcheck(mlp([2, 2], rng=rng), "ce", np.zeros((1, 2)), np.eye(2)[[0]])


def test_relative_error_scale():
    assert relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    assert relative_error(np.array([1.0]), np.array([1.1])) == pytest.approx(0.1 / 1.1)
    # An entry a million times smaller than the largest is judged on the parameter's scale (1e-3).
    assert relative_error(np.array([1.0, 1e-6]), np.array([1.0, 1.1e-6])) == pytest.approx(1e-4)
    assert relative_error(np.array([1e-9]), np.array([2e-9]), floor=1e-5) == pytest.approx(1e-4)


def test_cli_all_prints_a_table_and_the_worst_error_last(capsys):
    assert main(["gradcheck", "--all"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("240 checks, 0 above 1e-06; worst relative error ")
    assert float(lines[-1].rsplit(" ", 1)[1]) < 1e-6
    assert len(lines) == 242  # header, 240 rows, summary


def test_cli_rejects_unknown_names(capsys):
    assert main(["gradcheck", "--loss", "hinge"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: unknown loss 'hinge'; choose one of: mse, bce, ce "
        "(mse, binary_cross_entropy, binary_cross_entropy_from_logits, cross_entropy, softmax_cross_entropy)"
    )
