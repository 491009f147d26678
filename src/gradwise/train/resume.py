"""Exact resume: a checkpoint holds everything a run needs to continue as if it had never stopped.

``checkpoint.npz`` in the run folder: the weights (``param/0.W`` ...), the optimizer state
(``opt/<key>``, which includes the schedule's step count and any rollback's learning-rate
scale), and ``__run__``, a JSON string with the position in the data order (epoch, batch),
the step, the current epoch's running totals, the dropout generator's state, the random streams'
scheme (``gradwise.seeds.STREAMS``: a checkpoint from another scheme is refused), the history, the
health monitor's and the guard's state (their trend, streaks and diagnoses, so a resumed run goes on
judging as if it had never stopped), why the run stopped once it has (a finished run resumed changes
nothing) and the BLAS path the run takes (``gradwise.blas.backend()``; a process never changes it
mid-run, and a run resumed on another path continues with numbers that may differ in the last bits).
Written atomically every ``--checkpoint-every`` steps; never with non-finite weights.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gradwise import blas, seeds
from gradwise.files import atomic_open
from gradwise.nn.network import Network
from gradwise.train.callbacks import Callback, Run, Session
from gradwise.train.checkpoint import CHECKPOINT_FILE, CheckpointError
from gradwise.train.history import EpochRecord, History
from gradwise.train.stopping import Progress

__all__ = ["CHECKPOINT_FILE", "Checkpoint", "Checkpointer", "load_checkpoint", "read_health_state", "save_checkpoint"]
RUN_KEY = "__run__"


@dataclass
class Checkpoint:
    """What a checkpoint restores besides the weights: the run, the dropout generator's state, the BLAS path."""

    run: Run
    rng_state: dict[str, Any]
    backend: str  # "openblas" or "numpy"; "" in a checkpoint that did not record it
    finished: str | None  # why the run stopped, once it has; None while it can go on


def save_checkpoint(
    path: Path,
    net: Network,
    run: Run,
    rng: np.random.Generator,
    health: dict[str, Any] | None = None,
    finished: str | None = None,
) -> bool:
    """Write the run's full state atomically; False (and nothing written) when a weight is not finite.

    ``finished`` is the stop reason of a run that has ended.
    """
    if not all(np.isfinite(p).all() for p in net.params.values()):
        return False
    arrays: dict[str, np.ndarray] = {f"param/{k}": v for k, v in net.params.items()}
    arrays.update({f"opt/{k}": v for k, v in run.opt_state.items()})
    state = {
        "epoch": run.epoch,
        "position": run.position,
        "step": run.step,
        "loss_sum": run.loss_sum,
        "correct": run.correct,
        "seen": run.seen,
        "discarded": run.discarded,
        "rng": rng.bit_generator.state,
        "history": [r.to_json() for r in run.history.epochs],
        "health": health,
        "blas": blas.backend(),
        "finished": finished,
        "streams": seeds.STREAMS,
    }
    arrays[RUN_KEY] = np.array(json.dumps(state))
    with atomic_open(path) as f:
        np.savez(f, **arrays)  # type: ignore[arg-type]
    return True


def load_checkpoint(path: Path, net: Network, opt_state: dict[str, np.ndarray]) -> Checkpoint:
    """Put the checkpoint's weights into ``net`` and return the Run to continue, the generator state and more.

    ``opt_state`` is a freshly initialized state of the same optimizer: it says which arrays to expect.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        state = json.loads(str(arrays.pop(RUN_KEY)))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: does not exist; was the run started with --checkpoint-every?") from None
    except ValueError as error:
        raise CheckpointError(f"{path}: not a usable checkpoint ({error}); start the run again") from None
    except (OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as error:
        raise CheckpointError(f"{path}: damaged ({type(error).__name__}); start the run again") from None
    if state.get("streams") != seeds.STREAMS:
        raise CheckpointError(
            f"{path}: written by an older gradwise, whose data order came from other random streams, so it "
            "cannot continue exactly; start the run again without --resume"
        )
    _fill(path, net.params, arrays, "param/")
    restored = {k: v.copy() for k, v in opt_state.items()}
    _fill(path, restored, arrays, "opt/")
    try:
        run = Run(
            restored,
            epoch=int(state["epoch"]),
            position=int(state["position"]),
            step=int(state["step"]),
            history=History([EpochRecord.from_json(r) for r in state["history"]]),
            loss_sum=float(state["loss_sum"]),
            correct=int(state["correct"]),
            seen=int(state["seen"]),
            discarded=int(state.get("discarded", 0)),  # absent from older checkpoints: none
        )
        finished = state.get("finished")
        if finished is None:
            run.drop_partial_record()  # the epoch the run stopped inside is recorded again when it ends
        return Checkpoint(run, state["rng"], str(state.get("blas", "")), None if finished is None else str(finished))
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path}: its run state is incomplete ({error}); start the run again") from None


def read_health_state(path: Path) -> dict[str, Any] | None:
    """The monitor's and the guard's state saved with the checkpoint (None in older checkpoints)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            health = json.loads(str(archive[RUN_KEY])).get("health")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise CheckpointError(f"{path}: damaged ({type(error).__name__}); start the run again") from None
    return health if isinstance(health, dict) else None


def _fill(path: Path, target: dict[str, np.ndarray], arrays: dict[str, np.ndarray], prefix: str) -> None:
    for name, value in target.items():
        saved = arrays.get(prefix + name)
        if saved is None or saved.shape != value.shape or saved.dtype != value.dtype:
            raise CheckpointError(f"{path}: {prefix}{name} is missing or has the wrong shape; start the run again")
        value[...] = saved


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
