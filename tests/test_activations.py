import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import torch_activation
from gradwise.nn.activations import ACTIVATIONS, elu, get_activation, leaky_relu, relu

ALL = [*ACTIVATIONS.values(), leaky_relu(0.2), elu(0.5)]
IDS = [f"{a.name}{a.params or ''}" for a in ALL]


def backward_via_torch(act, z, da):
    zt = torch.tensor(z, requires_grad=True)
    a = torch_activation(act, zt)
    a.backward(torch.tensor(da))
    return a.detach().numpy(), zt.grad.numpy()


@pytest.mark.parametrize("act", ALL, ids=IDS)
def test_forward_and_backward_match_torch(act, rng):
    z = rng.normal(0, 3, size=(7, 5))
    z[np.abs(z) < 1e-3] = 0.5  # keep off the kinks, where derivatives are a convention
    da = rng.normal(size=z.shape)
    a = act.forward(z)
    a_torch, dz_torch = backward_via_torch(act, z, da)
    np.testing.assert_allclose(a, a_torch, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(act.backward(z, a, da), dz_torch, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("act", ALL, ids=IDS)
def test_backward_matches_finite_differences(act, rng):
    z = rng.normal(0, 2, size=(4, 6))
    z[np.abs(z) < 0.05] = 0.3
    da = rng.normal(size=z.shape)
    h = 1e-6
    numeric = np.zeros_like(z)
    for i in np.ndindex(z.shape):
        zp, zm = z.copy(), z.copy()
        zp[i] += h
        zm[i] -= h
        numeric[i] = np.vdot(da, act.forward(zp) - act.forward(zm)) / (2 * h)
    np.testing.assert_allclose(act.backward(z, act.forward(z), da), numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", ALL, ids=IDS)
def test_finite_for_extreme_inputs(act, dtype):
    # The seed's NaN: exp overflow in softmax and a sigmoid derivative computed as inf / inf.
    z = np.array([[-1000.0, 1000.0, 0.0, 1e4], [-1e4, 88.0, -88.0, 710.0]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        a = act.forward(z)
        dz = act.backward(z, a, np.ones_like(z))
    assert a.dtype == dtype and dz.dtype == dtype
    assert np.isfinite(a).all() and np.isfinite(dz).all()


def test_named_extremes_are_exact():
    z = np.array([[-1000.0, 1000.0]])
    np.testing.assert_array_equal(ACTIVATIONS["sigmoid"](z), [[0.0, 1.0]])
    np.testing.assert_array_equal(ACTIVATIONS["softplus"](z), [[0.0, 1000.0]])
    # softmax of logits 1e4 apart puts all the mass on the largest.
    np.testing.assert_array_equal(ACTIVATIONS["softmax"](np.array([[0.0, 1e4, -1e4]])), [[0.0, 1.0, 0.0]])


def test_softmax_backward_is_the_jacobian_product(rng):
    z = rng.normal(size=(1, 4))
    a = ACTIVATIONS["softmax"](z)[0]
    jacobian = np.diag(a) - np.outer(a, a)  # d a_i / d z_j
    da = rng.normal(size=4)
    np.testing.assert_allclose(
        ACTIVATIONS["softmax"].backward(z, a[None], da[None])[0], jacobian.T @ da, rtol=1e-12
    )


def test_lookup_by_name_alias_and_parameter():
    assert get_activation("logistic").name == "sigmoid"
    assert get_activation("Leaky-ReLU:0.2").params == {"alpha": 0.2}
    with pytest.raises(ValueError, match="unknown activation 'swish'; choose one of: identity"):
        get_activation("swish")
    with pytest.raises(ValueError, match="takes no parameter"):
        get_activation("relu:2")
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\)"):
        leaky_relu(-0.1)


@settings(max_examples=50, deadline=None)
@given(
    rows=st.integers(1, 6),
    cols=st.integers(1, 6),
    scale=st.sampled_from([1e-3, 1.0, 30.0, 1e3]),
    seed=st.integers(0, 2**31),
)
def test_shapes_preserved_and_softmax_rows_sum_to_one(rows, cols, scale, seed):
    z = np.random.default_rng(seed).normal(0, scale, size=(rows, cols)).astype(np.float32)
    for act in ALL:
        a = act.forward(z)
        assert a.shape == z.shape and a.dtype == np.float32
        assert act.backward(z, a, np.ones_like(z)).shape == z.shape
    np.testing.assert_allclose(ACTIVATIONS["softmax"](z).sum(axis=1), 1.0, rtol=1e-5)


def test_activations_compare_and_hash_by_what_they_compute():
    assert leaky_relu(0.2) == leaky_relu(0.2) == get_activation("leaky_relu:0.2")
    assert leaky_relu(0.2) != leaky_relu(0.3)
    assert elu(np.float32(0.5)) == elu(0.5)
    assert len({leaky_relu(0.2), leaky_relu(0.2), relu, get_activation("relu")}) == 2
    assert {leaky_relu(0.2): "found"}[get_activation("leaky_relu:0.2")] == "found"


def test_an_activation_spec_is_read_back_as_the_same_activation():
    for activation in [*ACTIVATIONS.values(), leaky_relu(0.2), elu(0.5), leaky_relu(1 / 3)]:
        assert get_activation(activation.spec) == activation, activation.spec
    assert leaky_relu(0.2).spec == "leaky_relu:0.2"
