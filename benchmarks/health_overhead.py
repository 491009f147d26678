"""What the health monitor and the non-finite guard cost: training-step time with and without them.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/health_overhead.py

For each network, runs a fixed number of steps through `fit` with no callbacks, the guard, the monitor
and both, interleaved over several repetitions, and prints median seconds and the overhead of each.
Each run starts fresh, so it sees the monitor's start: the probe of step 1 and the denser probing of the
first 1000 steps (`health.monitor.EARLY_STEPS`). throughput.py measures the steady state.
Last line: `monitor overhead X%, guard overhead Y% (worst case over the networks)`.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from gradwise import mlp, optim
from gradwise.data.stream import batch, source
from gradwise.health.monitor import HealthMonitor
from gradwise.train.loop import fit
from gradwise.train.recovery import NonFiniteGuard
from gradwise.train.stopping import max_steps

NETWORKS = [((784, 1000, 10), 128), ((784, 100, 10), 32), ((784, 512, 512, 512, 10), 128), ((784, 30, 10), 10)]


def timed(sizes: tuple[int, ...], batch_size: int, steps: int, variant: str) -> float:
    rng = np.random.default_rng(0)
    x = rng.random((batch_size * steps, sizes[0]), dtype=np.float32)
    t = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], len(x))]
    net = mlp(list(sizes), rng=0)
    callbacks: list = []
    if variant in ("monitor", "both"):
        callbacks.append(HealthMonitor({"batch_size": batch_size, "loss": "ce"}))
    if variant in ("guard", "both"):
        callbacks.append(NonFiniteGuard("stop"))
    started = time.perf_counter()
    fit(net, "ce", optim.momentum(0.01), source(x, t) | batch(batch_size), max_steps(steps), callbacks=callbacks)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    try:
        from threadpoolctl import threadpool_info

        print(
            "BLAS:",
            ", ".join(f"{i['internal_api']} {i.get('architecture')} x{i['num_threads']}" for i in threadpool_info()),
        )
    except ImportError:
        pass
    worst = {"monitor": 0.0, "guard": 0.0}
    for sizes, batch_size in NETWORKS:
        times: dict[str, list[float]] = {v: [] for v in ("none", "guard", "monitor", "both")}
        for _ in range(args.repeats):
            for variant in times:  # interleaved, so drifts in machine load hit every variant alike
                times[variant].append(timed(sizes, batch_size, args.steps, variant))
        median = {v: statistics.median(ts) for v, ts in times.items()}
        over = {v: 100 * (median[v] / median["none"] - 1) for v in ("guard", "monitor", "both")}
        worst["monitor"] = max(worst["monitor"], over["monitor"])
        worst["guard"] = max(worst["guard"], over["guard"])
        name = "-".join(map(str, sizes))
        print(
            f"{name:<22} batch {batch_size:>4}: step {1e3 * median['none'] / args.steps:7.3f} ms; "
            f"guard {over['guard']:+5.1f}%, monitor {over['monitor']:+5.1f}%, both {over['both']:+5.1f}%"
        )
    print(
        f"monitor overhead {worst['monitor']:.1f}%, guard overhead {worst['guard']:.1f}% (worst case over the networks)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
