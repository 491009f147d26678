"""One trial of a sweep: train a configuration to its budget with the health monitor and the guard on.

``run_trial`` takes and returns plain JSON values, so a process pool or a Ray cluster can carry them.
"""

from __future__ import annotations

import math
import numbers
import socket
import time
from typing import Any

from gradwise.sweep.results import finite_or_none
from gradwise.train.config import TrainConfig
from gradwise.train.runner import train


def run_trial(config_data: dict[str, Any]) -> dict[str, Any]:
    """Train ``config_data`` (TrainConfig fields) once, without a run folder; what the sweep records.

    ``runner.train`` runs the health monitor (unless ``monitor`` is off), its static checks and the
    guard, which stops a trial whose loss turns non-finite or diverges (``health/divergence.py``), so
    the sweep spends its time on the live ones.
    """
    started = time.perf_counter()
    config = TrainConfig.from_dict(config_data)
    result = train(config, None)
    last = result.history.last
    return {
        "val_accuracy": finite_or_none(last.val_accuracy) if last else None,
        "train_accuracy": finite_or_none(last.train_accuracy) if last else None,
        "train_loss": finite_or_none(last.train_loss) if last else None,
        "test_accuracy": finite_or_none(result.test_accuracy),
        "steps": last.step if last else 0,
        "epochs": len(result.history),
        "seconds": round(time.perf_counter() - started, 3),
        "stop_reason": result.history.stop_reason,
        "classes": result.net.n_outputs,  # chance accuracy is 1 / classes
        "host": socket.gethostname(),
        "diagnoses": [_readable(d.to_json()) for d in result.diagnoses],
        "history": [record.to_json() for record in result.history.epochs],
    }


def _readable(diagnosis: dict[str, Any]) -> dict[str, Any]:
    # Evidence such as max |z| = inf says more as "inf" than as the null a non-finite number becomes in JSON.
    evidence = diagnosis.get("evidence", {})
    diagnosis["evidence"] = {
        name: str(value) if isinstance(value, numbers.Real) and not math.isfinite(value) else value
        for name, value in evidence.items()
    }
    return diagnosis
