"""Loss and accuracy of a network on a data set, in chunks so memory stays bounded."""

from __future__ import annotations

import numpy as np

from gradwise.nn.losses import Loss, get_loss
from gradwise.nn.network import Network, fused_loss

Array = np.ndarray


def accuracy(outputs: Array, targets: Array) -> float:
    """Fraction of rows whose largest output is the target's class (targets one-hot (N, C) or labels (N,))."""
    labels = targets.argmax(axis=1) if targets.ndim == 2 else targets
    return float((outputs.argmax(axis=1) == labels).mean()) if len(outputs) else float("nan")


def evaluate(net: Network, loss: str | Loss, x: Array, t: Array, batch_size: int = 4096) -> tuple[float, float]:
    """(mean loss, accuracy) at evaluation (dropout off); t is one-hot (N, C).

    The loss is the one training minimizes: the fused form on the logits where the output and loss are a
    matched pair (as ``grad``), so a confident mistake costs the same here as in a training step.
    """
    loss = get_loss(loss)
    if len(x) == 0:
        return float("nan"), float("nan")
    fused = fused_loss(net, loss)
    total, correct = 0.0, 0
    for i in range(0, len(x), batch_size):
        # Logits for a fused loss: their argmax is the output's (softmax and sigmoid keep the order).
        y = net.forward(x[i : i + batch_size], logits=fused is not None)[0]
        tb = np.asarray(t[i : i + batch_size], dtype=net.dtype)
        total += (fused or loss)(y, tb)[0] * len(y)
        correct += int((y.argmax(axis=1) == tb.argmax(axis=1)).sum())
    return total / len(x), correct / len(x)


def mean_recall(predicted: Array, labels: Array) -> float:
    """The mean over the classes present in ``labels`` (N,) of the fraction of their rows ``predicted`` (N,)
    gets right: each class counts the same, whatever its size (NaN without rows)."""
    present = np.unique(labels)
    if len(present) == 0:
        return float("nan")
    return float(np.mean([np.mean(predicted[labels == c] == c) for c in present]))


def balanced_accuracy(net: Network, x: Array, labels: Array, batch_size: int = 4096) -> float:
    """The balanced accuracy of ``net`` on x (N, F): the mean recall per class present in ``labels`` (class
    indices (N,) or one-hot rows (N, C)). A network that always answers the largest class scores 1 / classes,
    whatever the classes' shares; plain accuracy would give it the largest class's share."""
    labels = np.asarray(labels)
    labels = labels.argmax(axis=1) if labels.ndim == 2 else labels
    predicted = np.concatenate(
        [net.forward(x[i : i + batch_size])[0].argmax(axis=1) for i in range(0, len(x), batch_size)]
        or [np.zeros(0, dtype=np.int64)]
    )
    return mean_recall(predicted, labels)
