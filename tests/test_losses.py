import numpy as np
import pytest
import torch

from conftest import torch_loss
from gradwise.nn.activations import ACTIVATIONS
from gradwise.nn.losses import LOSSES, get_loss, mse


def outputs_for(name, rng, shape):
    """Outputs in each loss's domain: probabilities for the probability losses, logits otherwise."""
    z = rng.normal(0, 2, size=shape)
    if name == "binary_cross_entropy":
        return ACTIVATIONS["sigmoid"](z)
    if name == "cross_entropy":
        return ACTIVATIONS["softmax"](z)
    return z


def targets_for(name, rng, shape):
    if name in ("cross_entropy", "softmax_cross_entropy"):
        return rng.dirichlet(np.ones(shape[1]), size=shape[0])
    if name.startswith("binary"):
        return rng.uniform(size=shape)
    return rng.normal(size=shape)


@pytest.mark.parametrize("name", LOSSES)
def test_value_and_gradient_match_torch(name, rng):
    y = outputs_for(name, rng, (6, 4))
    t = targets_for(name, rng, (6, 4))
    value, dy = LOSSES[name](y, t)
    yt = torch.tensor(y, requires_grad=True)
    expected = torch_loss(name, yt, torch.tensor(t))
    expected.backward()
    assert value == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(dy, yt.grad.numpy(), rtol=1e-10, atol=1e-15)


def test_mse_worked_example():
    # Sample 1: (1-0)^2 + (2-0)^2 = 5 -> 2.5; sample 2: (0-1)^2 + 0 = 1 -> 0.5; mean (2.5 + 0.5) / 2 = 1.5.
    y = np.array([[1.0, 2.0], [0.0, 3.0]])
    t = np.array([[0.0, 0.0], [1.0, 3.0]])
    value, dy = mse(y, t)
    assert value == 1.5
    np.testing.assert_array_equal(dy, [[0.5, 1.0], [-0.5, 0.0]])  # (y - t) / B


@pytest.mark.parametrize(
    ("output", "loss"), [("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy")]
)
def test_fused_form_equals_loss_after_activation(output, loss, rng):
    z = rng.normal(0, 2, size=(5, 3))
    t = targets_for(loss, rng, z.shape)
    act, unfused = ACTIVATIONS[output], LOSSES[loss]
    fused = unfused.fused[output]
    a = act(z)
    value, da = unfused(a, t)
    fused_value, dz = fused(z, t)
    assert fused_value == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(dz, act.backward(z, a, da), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(dz, (a - t) / len(z), rtol=1e-9, atol=1e-15)  # (p - t) / B


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", LOSSES)
def test_stable_for_logits_of_magnitude_1e4(name, dtype, rng):
    y = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]], dtype=dtype)
    if name in ("binary_cross_entropy", "cross_entropy"):
        y = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 1e-30]], dtype=dtype)  # saturated probabilities
    t = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        value, dy = LOSSES[name](y, t)
    assert np.isfinite(value) and np.isfinite(dy).all() and dy.dtype == dtype


def test_softmax_cross_entropy_of_huge_wrong_logit_is_the_margin():
    # log-sum-exp of (1e4, 0) is 1e4; the target is class 1 (logit 0): loss = 1e4 - 0.
    value, _ = LOSSES["softmax_cross_entropy"](np.array([[1e4, 0.0]]), np.array([[0.0, 1.0]]))
    assert value == pytest.approx(1e4)


def test_lookup():
    assert get_loss("ce").name == "cross_entropy"
    assert get_loss("bce").name == "binary_cross_entropy"
    assert get_loss("quadratic") is mse
    with pytest.raises(ValueError, match="unknown loss 'hinge'; choose one of: mse, bce, ce"):
        get_loss("hinge")


def test_losses_are_hashable():
    assert len(set(LOSSES.values())) == len(LOSSES)
    assert {get_loss("ce"): 1}[get_loss("cross_entropy")] == 1
