"""One seed, independent random streams: weights, each epoch's data order, dropout."""

import numpy as np

from gradwise import mlp, optim, seeds
from gradwise.data.stream import batch, shuffle, source
from gradwise.train.config import build_network, preset
from gradwise.train.loop import fit
from gradwise.train.stopping import max_epochs


def first_draws(generator: np.random.Generator) -> list[int]:
    return generator.integers(0, 2**62, size=4).tolist()


def test_the_streams_of_one_seed_are_all_different():
    seed = 7
    draws = [first_draws(seeds.weights_rng(seed)), first_draws(seeds.dropout_rng(seed))]
    draws += [first_draws(seeds.order_rng(seed, epoch)) for epoch in range(20)]
    draws += [first_draws(np.random.default_rng(seed))]  # nor is any the plain default_rng(seed)
    assert len({tuple(d) for d in draws}) == len(draws)


def test_each_stream_is_a_spawned_child_of_the_seed():
    weights, order, dropout = np.random.SeedSequence(11).spawn(3)
    assert first_draws(seeds.weights_rng(11)) == first_draws(np.random.default_rng(weights))
    assert first_draws(seeds.dropout_rng(11)) == first_draws(np.random.default_rng(dropout))
    assert first_draws(seeds.order_rng(11, 5)) == first_draws(np.random.default_rng(order.spawn(6)[5]))


def test_the_trainer_draws_weights_order_and_dropout_from_their_own_streams():
    config = preset("default", seed=3, hidden=(4,))
    net = build_network(config, 5, 3)
    expected = mlp([5, 4, 3], config.activation, config.output, rng=seeds.weights_rng(3))
    for name, value in net.params.items():
        np.testing.assert_array_equal(value, expected.params[name])
    # The first epoch's order was the weights' stream before (default_rng([seed, 0]) == default_rng(seed)).
    x, t = np.arange(10, dtype=np.float32)[:, None], np.eye(2, dtype=np.float32)[np.arange(10) % 2]
    order = [int(xb[0, 0]) for xb, _ in (source(x, t) | shuffle(3) | batch(1)).epoch(0)]
    assert order == seeds.order_rng(3, 0).permutation(10).tolist()


def test_an_integer_seed_given_to_mlp_and_fit_means_the_weights_and_the_dropout_streams():
    # mlp(rng=s) and fit(rng=s) used to start two generators in the same state.
    x = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32)
    t = np.eye(3, dtype=np.float32)[np.arange(64) % 3]

    def trained(weights, dropout):
        net = mlp([5, 8, 3], dropout=0.5, rng=weights)
        fit(net, "ce", optim.sgd(0.1), source(x, t) | batch(16), max_epochs(1), rng=dropout)
        return net.params

    by_seed, by_stream = trained(2, 2), trained(seeds.weights_rng(2), seeds.dropout_rng(2))
    for name, value in by_seed.items():
        np.testing.assert_array_equal(value, by_stream[name])
