"""gradwise: a small NumPy neural-network library with readable backprop and training that explains itself.

The names below are the public API (``mypy --strict`` checks the modules they come from; see
``tests/test_typing.py``). ``gradwise.sklearn.GradwiseClassifier`` needs scikit-learn and is imported
from its own module. ``doctor``, ``train`` and ``report`` do what the CLI's commands do and return what they print
(``gradwise.notebook``); ``gw.train(config)`` and ``gw.report(run)`` call the packages of those names, which
run them.
"""

import gradwise.display  # noqa: F401 (registers how every object reads: repr, HTML, plot; see gradwise.looks)
from gradwise import (
    optim,
    report,  # the package, callable: gw.report(result) runs gradwise.notebook.report
    train,  # the package, callable: gw.train(config) runs gradwise.notebook.train
)
from gradwise.data.datasets import Dataset, Split, load_dataset, one_hot
from gradwise.data.stream import Stream, batch, shuffle, source
from gradwise.data.tables import load_table
from gradwise.health.diagnosis import Diagnosis
from gradwise.health.gradcheck import gradcheck
from gradwise.health.monitor import HealthMonitor
from gradwise.health.settings import Settings
from gradwise.health.static import static_checks
from gradwise.nn import (
    Activation,
    BatchNorm,
    Dense,
    Dropout,
    LayerNorm,
    Loss,
    Network,
    get_activation,
    get_initializer,
    get_loss,
    grad,
    mlp,
)
from gradwise.notebook import doctor
from gradwise.optim import move
from gradwise.train.callbacks import Callback
from gradwise.train.config import TrainConfig, preset
from gradwise.train.evaluation import evaluate
from gradwise.train.history import EpochRecord, History
from gradwise.train.loop import fit
from gradwise.train.model_file import load_model
from gradwise.train.recovery import NonFiniteGuard
from gradwise.train.result import Result
from gradwise.train.stopping import (
    StopCondition,
    close_enough,
    max_epochs,
    max_steps,
    no_improvement,
    target,
    time_budget,
)
from gradwise.verify import dump_trace, verify

__version__ = "0.1.0"

__all__ = [
    "Activation",
    "BatchNorm",
    "Callback",
    "Dataset",
    "Dense",
    "Diagnosis",
    "Dropout",
    "EpochRecord",
    "HealthMonitor",
    "History",
    "LayerNorm",
    "Loss",
    "Network",
    "NonFiniteGuard",
    "Result",
    "Settings",
    "Split",
    "StopCondition",
    "Stream",
    "TrainConfig",
    "__version__",
    "batch",
    "close_enough",
    "doctor",
    "dump_trace",
    "evaluate",
    "fit",
    "get_activation",
    "get_initializer",
    "get_loss",
    "grad",
    "gradcheck",
    "load_dataset",
    "load_model",
    "load_table",
    "max_epochs",
    "max_steps",
    "mlp",
    "move",
    "no_improvement",
    "one_hot",
    "optim",
    "preset",
    "report",
    "shuffle",
    "source",
    "static_checks",
    "target",
    "time_budget",
    "train",
    "verify",
]
