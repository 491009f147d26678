"""One output/loss pairing table: the check before training, its fix, and the chance loss all read it."""

import math

import numpy as np
import pytest

from gradwise import mlp
from gradwise.health.explain import explain
from gradwise.health.settings import Settings
from gradwise.health.static import static_checks
from gradwise.nn.activations import ACTIVATIONS
from gradwise.nn.losses import LOSSES, get_loss
from gradwise.nn.pairing import PAIRINGS, chance_loss, mismatched

OUTPUTS = list(ACTIVATIONS)


def test_every_loss_has_a_pairing():
    assert set(PAIRINGS) == set(LOSSES)


@pytest.mark.parametrize("output", OUTPUTS)
def test_cross_entropies_want_their_own_output_and_mse_anything_but_softmax(output):
    assert mismatched("ce", output) == (output != "softmax")
    assert mismatched("bce", output) == (output != "sigmoid")
    assert mismatched("softmax_cross_entropy", output) == (output != "identity")  # it takes logits
    assert mismatched("mse", output) == (output == "softmax")


def blobs(classes=3, n=300, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    return x, np.eye(classes, dtype=np.float32)[labels]


@pytest.mark.parametrize(
    ("output", "loss", "fix"),
    [
        ("leaky_relu", "ce", {"output": "softmax"}),  # before: leaky, elu and softplus outputs passed with ce
        ("elu", "bce", {"output": "sigmoid"}),
        ("softmax", "softmax_cross_entropy", {"output": "identity"}),  # before: a softmax applied twice passed
        ("softmax", "mse", {"loss": "ce"}),
        ("sigmoid", "ce", {"output": "softmax"}),
    ],
)
def test_a_mismatched_pair_is_found_before_training_and_fixed_by_the_table(output, loss, fix):
    x, t = blobs()
    net = mlp([6, 8, 3], "tanh", output, rng=0)
    found = {d.symptom: d for d in static_checks(net, loss, x, t, Settings(output=output, loss=loss))}
    assert found["output_loss_mismatch"].fix[0].changes == fix
    cause, _ = explain("output_loss_mismatch", 1, Settings(output=output, loss=loss))
    assert output in cause


@pytest.mark.parametrize(("output", "loss"), [("softmax", "ce"), ("sigmoid", "bce"), ("sigmoid", "mse"),
                                              ("identity", "softmax_cross_entropy"), ("tanh", "mse")])  # fmt: skip
def test_matched_pairs_raise_nothing(output, loss):
    x, t = blobs()
    net = mlp([6, 8, 3], "tanh", output, rng=0)
    assert all(d.symptom != "output_loss_mismatch" for d in static_checks(net, loss, x, t, {}))


def test_the_chance_loss_is_what_a_uniform_guess_scores():
    t = np.eye(4)[[0, 1, 2, 3]]
    uniform = {"softmax": np.full((4, 4), 0.25), "sigmoid": np.full((4, 4), 0.5), "identity": np.zeros((4, 4))}
    for (output, loss) in [("softmax", "ce"), ("sigmoid", "bce"), ("softmax", "mse"), ("sigmoid", "mse"),
                           ("identity", "mse")]:  # fmt: skip
        value, _ = get_loss(loss)(uniform[output].copy(), t)
        assert chance_loss(loss, output, 4) == pytest.approx(value, rel=1e-6)
    assert chance_loss("softmax_cross_entropy", "identity", 4) == pytest.approx(math.log(4))
    assert chance_loss("mse", "relu", 4) is None  # no uniform guess to speak of
