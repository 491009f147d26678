import numpy as np
import pytest

from gradwise.nn.activations import get_activation
from gradwise.nn.init import INITIALIZERS, default_initializer, get_initializer, glorot_uniform, he_normal


@pytest.mark.parametrize("name", INITIALIZERS)
def test_shape_and_determinism(name):
    init = get_initializer(name)
    a = init(np.random.default_rng(7), 30, 20)
    b = init(np.random.default_rng(7), 30, 20)
    assert a.shape == (30, 20)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("name", "fan_in", "fan_out", "std"),
    [
        ("glorot_uniform", 400, 600, np.sqrt(2 / 1000)),
        ("glorot_normal", 400, 600, np.sqrt(2 / 1000)),
        ("he_normal", 400, 600, np.sqrt(2 / 400)),
        ("he_uniform", 400, 600, np.sqrt(2 / 400)),
        ("lecun_normal", 400, 600, np.sqrt(1 / 400)),
        ("normal", 400, 600, 1.0),
    ],
)
def test_standard_deviation_follows_the_paper(name, fan_in, fan_out, std):
    w = get_initializer(name)(np.random.default_rng(0), fan_in, fan_out)
    assert abs(w.mean()) < 0.01 * std * 5
    assert w.std() == pytest.approx(std, rel=0.01)  # 240k samples: the std's own error is ~0.15 %


def test_seed_and_nielsen_defaults():
    u = get_initializer("uniform")(np.random.default_rng(0), 784, 100)
    assert u.min() >= 0 and u.max() < 1 and u.mean() == pytest.approx(0.5, abs=0.01)  # the seed's U(0, 1)
    assert get_initializer("normal", 0.1)(np.random.default_rng(0), 500, 500).std() == pytest.approx(
        0.1, rel=0.01
    )
    assert get_initializer("uniform", 0.5)(np.random.default_rng(0), 50, 50).max() < 0.5
    np.testing.assert_array_equal(get_initializer("constant", 0.25)(np.random.default_rng(0), 2, 3), 0.25)


def test_default_per_activation():
    assert default_initializer(get_activation("relu")) is he_normal
    assert default_initializer(get_activation("elu")) is he_normal
    assert default_initializer(get_activation("sigmoid")) is glorot_uniform
    assert default_initializer(get_activation("tanh")) is glorot_uniform


def test_bad_names():
    with pytest.raises(ValueError, match="unknown initializer 'orthogonal'; choose one of: zeros"):
        get_initializer("orthogonal")
    with pytest.raises(ValueError, match="takes no scale"):
        get_initializer("he_normal", 2.0)
    assert get_initializer("xavier") is glorot_uniform
