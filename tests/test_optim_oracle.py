"""20 steps of every optimizer from the same weights and batches as torch.optim: the weights must agree."""

import numpy as np
import pytest
import torch

from conftest import TorchMirror, torch_loss
from gradwise import optim
from gradwise.nn.network import grad, mlp
from gradwise.optim import schedules

STEPS = 20


def torch_cases(params):
    """name -> (gradwise optimizer, torch optimizer over the same parameters)."""
    p = list(params.values())
    return {
        "sgd": (optim.sgd(0.1), torch.optim.SGD(p, lr=0.1)),
        "sgd+l2": (optim.sgd(0.1, weight_decay=0.01), torch.optim.SGD(p, lr=0.1, weight_decay=0.01)),
        "momentum": (optim.momentum(0.05, 0.9), torch.optim.SGD(p, lr=0.05, momentum=0.9)),
        "momentum+l2+clip": (
            optim.momentum(0.05, 0.9, weight_decay=1e-3, clip_norm=0.5),
            torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3),
        ),
        "nesterov": (optim.nesterov(0.05, 0.8), torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True)),
        "adam": (optim.adam(1e-2), torch.optim.Adam(p, lr=1e-2)),
        "adam+l2+clip": (
            optim.adam(1e-2, weight_decay=1e-2, clip_norm=0.3),
            torch.optim.Adam(p, lr=1e-2, weight_decay=1e-2),
        ),
        "adamw": (optim.adamw(1e-2, weight_decay=0.1), torch.optim.AdamW(p, lr=1e-2, weight_decay=0.1)),
        "rmsprop": (optim.rmsprop(1e-3), torch.optim.RMSprop(p, lr=1e-3)),
        "rmsprop+momentum+l2": (
            optim.rmsprop(1e-3, momentum=0.9, weight_decay=1e-2),
            torch.optim.RMSprop(p, lr=1e-3, momentum=0.9, weight_decay=1e-2),
        ),
    }


CASES = list(torch_cases({"x": torch.zeros(1, requires_grad=True)}))


def clip_of(name):
    return {"momentum+l2+clip": 0.5, "adam+l2+clip": 0.3}.get(name)


def run_both(opt, torch_opt_factory, clip, scheduler=None, seed=0):
    rng = np.random.default_rng(seed)
    net = mlp([6, 8, 4], "tanh", "softmax", rng=rng, dtype=np.float64)
    mirror = TorchMirror(net)
    torch_opt = torch_opt_factory(mirror.params)
    torch_scheduler = scheduler(torch_opt) if scheduler else None
    state = opt.init(net.params)
    for _ in range(STEPS):
        x = rng.normal(size=(5, 6))
        t = np.eye(4)[rng.integers(0, 4, size=5)]
        _, grads = grad(net, "ce", x, t)
        state = optim.move(net.params, grads, opt, state)

        torch_opt.zero_grad()
        torch_loss("softmax_cross_entropy", mirror.forward_logits(x), torch.tensor(t)).backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(list(mirror.params.values()), clip)
        torch_opt.step()
        if torch_scheduler:
            torch_scheduler.step()
    return net, mirror


@pytest.mark.parametrize("name", CASES)
def test_twenty_steps_match_torch(name):
    def factory(params):
        return torch_cases(params)[name][1]

    opt = torch_cases({"x": torch.zeros(1, requires_grad=True)})[name][0]
    net, mirror = run_both(opt, factory, clip_of(name))
    initial = mlp([6, 8, 4], "tanh", "softmax", rng=np.random.default_rng(0), dtype=np.float64).params
    for key, value in net.params.items():
        np.testing.assert_allclose(
            value, mirror.params[key].detach().numpy(), rtol=1e-6, atol=1e-12, err_msg=key
        )
        assert not np.allclose(value, initial[key], rtol=1e-3), f"{key} did not move"


SCHEDULES = {
    "step": (
        schedules.step(0.1, every=5, gamma=0.5),
        lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=5, gamma=0.5),
    ),
    "exponential": (
        schedules.exponential(0.1, 0.9),
        lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
    ),
    "cosine": (
        schedules.cosine(0.1, total_steps=STEPS, final=0.01),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=STEPS, eta_min=0.01),
    ),
    "warmup": (
        schedules.warmup(0.1, steps=8, start=0.25),
        lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=8),
    ),
}


@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_values_match_torch(name):
    schedule, torch_factory = SCHEDULES[name]
    torch_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    torch_scheduler = torch_factory(torch_opt)
    for t in range(STEPS + 1):  # past its horizon torch's cosine climbs again; gradwise's holds
        assert schedule(t) == pytest.approx(torch_opt.param_groups[0]["lr"], rel=1e-9, abs=1e-15), t
        torch_opt.step()
        torch_scheduler.step()


@pytest.mark.parametrize("name", SCHEDULES)
def test_momentum_with_schedule_matches_torch(name):
    schedule, torch_factory = SCHEDULES[name]
    net, mirror = run_both(
        optim.momentum(schedule, 0.9),
        lambda p: torch.optim.SGD(list(p.values()), lr=0.1, momentum=0.9),
        None,
        scheduler=torch_factory,
    )
    for key, value in net.params.items():
        np.testing.assert_allclose(
            value, mirror.params[key].detach().numpy(), rtol=1e-6, atol=1e-12, err_msg=key
        )


def test_cosine_holds_its_final_rate():
    schedule = schedules.cosine(1.0, total_steps=10, final=0.1)
    assert schedule(0) == 1.0 and schedule(5) == pytest.approx(0.55)
    assert schedule(10) == schedule(11) == schedule(1000) == pytest.approx(0.1)


def test_clipping_scales_to_the_max_norm():
    updates = {"a": np.array([3.0, 0.0]), "b": np.array([[4.0]])}  # global norm 5
    updates, _ = optim.clip_by_global_norm(1.0).update(updates, {}, {})
    assert np.sqrt(sum((u**2).sum() for u in updates.values())) == pytest.approx(1.0, rel=1e-6)
    small = {"a": np.array([0.3, 0.4])}
    optim.clip_by_global_norm(1.0).update(small, {}, {})
    np.testing.assert_array_equal(small["a"], [0.3, 0.4])  # under the limit: untouched


def test_bad_hyperparameters():
    with pytest.raises(ValueError, match="learning rate must be > 0, got 0"):
        optim.sgd(0)
    with pytest.raises(ValueError, match="weight decay must be >= 0"):
        optim.adam(weight_decay=-1)
    with pytest.raises(ValueError, match="clip norm must be > 0"):
        optim.sgd(0.1, clip_norm=0)


@pytest.mark.parametrize("make", [optim.sgd, optim.momentum, optim.adam, optim.rmsprop])
def test_a_numpy_scalar_learning_rate_is_a_number(make, rng):
    net_numpy, net_float = mlp([4, 3], rng=0), mlp([4, 3], rng=0)
    x, t = rng.normal(size=(5, 4)).astype(np.float32), np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1]]
    for net, lr in ((net_numpy, np.float32(0.1)), (net_float, float(np.float32(0.1)))):
        optimizer = make(lr)
        state = optimizer.init(net.params)
        for _ in range(3):
            state = optim.move(net.params, grad(net, "ce", x, t)[1], optimizer, state)
    for name, value in net_numpy.params.items():
        np.testing.assert_array_equal(value, net_float.params[name])


@pytest.mark.parametrize("lr", [np.float32(0), np.float64(-1.0), 0, -0.5])
def test_a_learning_rate_that_is_not_positive_is_refused_whatever_its_type(lr):
    with pytest.raises(ValueError, match=f"learning rate must be > 0, got {lr}"):
        optim.adam(lr)
