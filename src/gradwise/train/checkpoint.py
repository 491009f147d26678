"""Exact resume: a checkpoint holds everything a run needs to continue as if it had never stopped.

``checkpoint.npz`` in the run folder: the weights (``param/0.W`` ...), the buffers (BatchNorm's running
statistics, ``buffer/1.running_mean`` ...), the optimizer state
(``opt/<key>``, which includes the schedule's step count and any rollback's learning-rate
scale), and ``__run__``, a JSON string with the position in the data order (epoch, batch),
the step, the current epoch's running totals, the dropout generator's state, the random streams'
scheme (``gradwise.seeds.STREAMS``: a checkpoint from another scheme is refused), the history, the
health monitor's and the guard's state (their trend, streaks and diagnoses, so a resumed run goes on
judging as if it had never stopped), why the run stopped once it has (a finished run resumed changes
nothing), the BLAS path the run takes (``gradwise.blas.backend()``; a process never changes it
mid-run, and a run resumed on another path continues with numbers that may differ in the last bits) and its GEMMs'
backends (``gradwise.blas.gemm_state()``: the ``--blas`` setting, the backends used and, for ``auto``, the one each
shape took, which a resumed run keeps where it can).
Written atomically every ``--checkpoint-every`` steps; never with non-finite weights or buffers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gradwise import blas, seeds
from gradwise.files import atomic_open
from gradwise.nn.network import Network
from gradwise.train.archive import CheckpointError, NpzReader
from gradwise.train.callbacks import Callback, Run, Session
from gradwise.train.history import EpochRecord, History
from gradwise.train.run_folder import CHECKPOINT_FILE
from gradwise.train.stopping import Progress

__all__ = ["CHECKPOINT_FILE", "Checkpoint", "Checkpointer", "checkpoint_step", "load_checkpoint", "save_checkpoint"]
RUN_KEY = "__run__"
_RUN_MAX_BYTES = 1 << 28  # the run state is JSON: its history and the health state, far below this
_FIX = "start the run again"


@dataclass
class Checkpoint:
    """What a checkpoint restores besides the weights: the run, the dropout generator's state, the BLAS path and the
    health state."""

    run: Run
    rng_state: dict[str, Any]
    backend: str  # "openblas" or "numpy"; "" in a checkpoint that did not record it
    finished: str | None  # why the run stopped, once it has; None while it can go on
    health: dict[str, Any] | None  # the monitor's and the guard's state; None in older checkpoints
    gemm: dict[str, Any] = field(default_factory=dict)  # blas.gemm_state() when saved; {} in older checkpoints


def save_checkpoint(
    path: Path,
    net: Network,
    run: Run,
    rng: np.random.Generator,
    health: dict[str, Any] | None = None,
    finished: str | None = None,
) -> bool:
    """Write the run's full state atomically; False (and nothing written) when a weight or a buffer is not finite.

    ``finished`` is the stop reason of a run that has ended.
    """
    if not all(np.isfinite(p).all() for p in [*net.params.values(), *net.buffers.values()]):
        return False
    arrays: dict[str, np.ndarray] = {f"param/{k}": v for k, v in net.params.items()}
    arrays.update({f"buffer/{k}": v for k, v in net.buffers.items()})
    arrays.update({f"opt/{k}": v for k, v in run.opt_state.items()})
    state = {
        **run.to_json(),
        "rng": rng.bit_generator.state,
        "health": health,
        "blas": blas.backend(),
        "gemm": blas.gemm_state(),
        "finished": finished,
        "streams": seeds.STREAMS,
    }
    arrays[RUN_KEY] = np.array(json.dumps(state))
    with atomic_open(path) as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]
    return True


def load_checkpoint(path: Path, net: Network, opt_state: dict[str, np.ndarray]) -> Checkpoint:
    """Put the checkpoint's weights and buffers into ``net``; return the Run to continue, the generator state and more.

    ``opt_state`` is a freshly initialized state of the same optimizer: it says which arrays to expect. The file is
    read through ``NpzReader``: every array's header must match what the network and the optimizer hold.
    """
    if not path.is_file():
        raise CheckpointError(f"{path}: does not exist; was the run started with --checkpoint-every?")
    with NpzReader(path, "checkpoint", _FIX, "the run") as archive:
        state = _run_state(path, archive)
        params = _arrays(path, archive, "param/", net.params)
        buffers = _arrays(path, archive, "buffer/", net.buffers)  # none for a network without BatchNorm
        restored = _arrays(path, archive, "opt/", opt_state)
    for name, value in params.items():
        net.params[name][...] = value
    for name, value in buffers.items():
        net.buffers[name][...] = value
    try:
        run = Run.from_json(state, restored)
        finished = state.get("finished")
        if finished is None:
            run.drop_partial_record()  # the epoch the run stopped inside is recorded again when it ends
        health, gemm = state.get("health"), state.get("gemm")
        return Checkpoint(
            run,
            state["rng"],
            str(state.get("blas", "")),
            None if finished is None else str(finished),
            health if isinstance(health, dict) else None,
            gemm if isinstance(gemm, dict) else {},
        )
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: its run state is incomplete ({error}); {_FIX}") from None


def continue_gemms(checkpoint: Checkpoint) -> str | None:
    """Run the GEMMs as the checkpoint's run did (``blas.continue_from``); the line a resumed run prints when a
    backend it used is missing here, else None."""
    lacking = blas.continue_from(checkpoint.gemm)
    if not lacking:
        return None
    here = ", ".join(blas.gemm_state()["used"] or blas.available())  # type: ignore[arg-type]
    reasons = "; ".join(filter(None, (blas.missing(name) for name in lacking)))
    return (
        f"resume: the checkpoint's GEMMs ran on {', '.join(lacking)}, which this process cannot use ({reasons}); "
        f"they run on {here} here, and the numbers can differ from an uninterrupted run in the last bits"
    )


def checkpoint_step(path: Path) -> int | None:
    """The step the checkpoint at ``path`` was written at; None when there is none or it cannot be read."""
    try:
        with NpzReader(path, "checkpoint", _FIX, "the run") as archive:
            return int(_run_state(path, archive)["step"])
    except (OSError, CheckpointError, KeyError, TypeError, ValueError):
        return None


def _run_state(path: Path, archive: NpzReader) -> dict[str, Any]:
    if RUN_KEY not in archive.keys:
        raise CheckpointError(f"{path}: no {RUN_KEY} entry: not a gradwise checkpoint; {_FIX}")
    raw = archive.array(RUN_KEY, shape=(), max_bytes=_RUN_MAX_BYTES)
    try:
        state = json.loads(str(raw[()])) if raw.dtype.kind == "U" else None
    except (ValueError, RecursionError):
        state = None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: its run state is not a JSON object; {_FIX}")
    if state.get("streams") != seeds.STREAMS:
        raise CheckpointError(
            f"{path}: written by an older gradwise, whose data order came from other random streams, so it "
            "cannot continue exactly; start the run again without --resume"
        )
    return state


def _arrays(path: Path, archive: NpzReader, prefix: str, like: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Copies of the arrays stored under ``prefix``, one per entry of ``like``, with its shape and dtype."""
    arrays = {}
    for name, value in like.items():
        key = prefix + name
        saved = archive.array(key, value.shape) if key in archive.keys else None
        if saved is None or saved.dtype != value.dtype:
            raise CheckpointError(f"{path}: {key} is missing or has the wrong shape; {_FIX}")
        arrays[name] = saved.copy()
    return arrays


class Checkpointer(Callback):
    """Saves a checkpoint every ``every`` steps, at every epoch's end, and when the run stops."""

    def __init__(self, folder: Path, every: int, health: Callable[[], dict[str, Any]] | None = None) -> None:
        self.path = folder / CHECKPOINT_FILE
        self.every = every
        self.health = health  # the monitor's and the guard's state, saved beside the run's
        self.session: Session | None = None

    def on_begin(self, session: Session) -> None:
        self.session = session

    def on_step(self, progress: Progress, loss: float) -> None:
        if progress.step % self.every == 0:
            self._save()

    def on_epoch(self, progress: Progress, record: EpochRecord) -> None:
        self._save()

    def on_end(self, history: History) -> None:
        self._save(finished=history.stop_reason)

    def _save(self, finished: str | None = None) -> None:
        assert self.session is not None
        health = self.health() if self.health is not None else None
        save_checkpoint(self.path, self.session.net, self.session.run, self.session.rng, health, finished)
