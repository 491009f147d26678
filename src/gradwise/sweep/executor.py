"""Where trials run: in this process, in a local process pool, or as tasks on a Ray cluster.

Each runner takes the trials' configurations (JSON values) and yields ``(index, result)`` as trials finish,
in whatever order they finish; ``result`` is ``run_trial``'s dict, or the exception the trial raised.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from multiprocessing import get_context
from typing import Any

from gradwise.sweep.trial import run_trial
from gradwise.train.config import ConfigError

Outcome = tuple[int, dict[str, Any] | BaseException]
BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def cores() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def blas_threads(jobs: int, available: int | None = None) -> int:
    """BLAS threads per worker so that ``jobs`` workers together use the cores once: max(1, cores // jobs)."""
    return max(1, (available or cores()) // jobs)


def run_serial(
    configs: Sequence[dict[str, Any]], task: Callable[[dict[str, Any]], Any] = run_trial
) -> Iterator[Outcome]:
    """Every trial in this process, one after another."""
    for index, config in enumerate(configs):
        try:
            yield index, task(config)
        except Exception as error:
            yield index, error


def run_local(
    configs: Sequence[dict[str, Any]], jobs: int, task: Callable[[dict[str, Any]], Any] = run_trial
) -> Iterator[Outcome]:
    """Trials in a pool of ``jobs`` fresh processes (``jobs`` 1 runs them here), each limited in BLAS threads.

    ``task`` runs one trial; it must be importable by name, since spawned workers import it.
    """
    if jobs <= 1:
        yield from run_serial(configs, task)
        return
    # A BLAS library reads its thread count once, when numpy loads it; a spawned worker loads numpy anew
    # (a forked one would share the parent's BLAS threads), so the variables must be set before it starts.
    workers = min(jobs, max(len(configs), 1))
    with _environment(dict.fromkeys(BLAS_VARIABLES, str(blas_threads(workers)))):
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"))
        try:
            pending: dict[Future[dict[str, Any]], int] = {
                pool.submit(task, config): index for index, config in enumerate(configs)
            }
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    index = pending.pop(future)
                    error = future.exception()
                    yield index, error if error is not None else future.result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def blas_variables(config: dict[str, Any] | None = None) -> dict[str, str | None]:
    """The BLAS thread variables as the process running it sees them (a task for checking a pool)."""
    return {name: os.environ.get(name) for name in BLAS_VARIABLES}


def run_ray(configs: Sequence[dict[str, Any]], address: str) -> Iterator[Outcome]:
    """Trials as tasks of one CPU each on the Ray cluster at ``address`` (``auto``: the one on this machine).

    Every node needs the same gradwise installed (``pip install 'gradwise[ray]'``); each task runs with one
    BLAS thread, since Ray runs one task per CPU.
    """
    try:
        import ray
    except ModuleNotFoundError:
        raise ConfigError("--ray needs Ray: install it with pip install 'gradwise[ray]'") from None
    try:
        ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
    except (ConnectionError, ValueError, RuntimeError) as error:
        message = " ".join(str(error).split())
        raise ConfigError(
            f"--ray {address}: could not join a Ray cluster there ({message}); start one with `ray start --head`"
        ) from None
    pending: dict[Any, int] = {}
    try:
        task = ray.remote(run_trial).options(num_cpus=1, runtime_env={"env_vars": dict.fromkeys(BLAS_VARIABLES, "1")})
        pending.update({task.remote(config): index for index, config in enumerate(configs)})
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                index = pending.pop(ref)
                try:
                    yield index, ray.get(ref)
                except ray.exceptions.RayTaskError as error:
                    yield index, error.cause if isinstance(error.cause, BaseException) else error
    finally:
        for ref in pending:  # left over when the sweep is interrupted
            ray.cancel(ref, force=True)
        ray.shutdown()
