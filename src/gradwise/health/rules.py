"""Rules: conditions on the monitor's statistics that, held long enough, become diagnoses.

Each rule looks at the newest probe (and the loss trend) and returns the layers where its
condition holds now, with the evidence. The monitor turns a condition that held at
``PERSISTENCE`` consecutive probes after ``WARMUP_STEPS`` into a Diagnosis whose step is
the streak's first probe. Rules about gradients and learning rate also require the loss
to be failing, so a network that learns despite odd statistics raises no alarm.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from gradwise.health import thresholds as T
from gradwise.health.divergence import LossTrend
from gradwise.health.stats import StepStats

LayerEvidence = tuple[int | None, dict[str, float | int | str]]  # (layer or None, evidence)


@dataclass
class Context:
    """What the rules read: recent probes (newest last) and every step's loss."""

    probes: list[StepStats]
    losses: list[float]
    warmup_gradient_norms: list[float] | None = None
    chance_loss: float | None = None  # the loss of uniform guessing, where the loss has one
    trend: LossTrend | None = None  # the smoothed loss, for the one definition of diverging

    @property
    def now(self) -> StepStats:
        return self.probes[-1]

    def initial_loss(self) -> float:
        head = [v for v in self.losses[:10] if math.isfinite(v)]
        return float(np.mean(head)) if head else math.nan

    @cached_property
    def _window_means(self) -> tuple[float, float] | None:
        if len(self.losses) < T.WINDOW_STEPS:
            return None
        window = np.asarray(self.losses[-T.WINDOW_STEPS :])
        half = len(window) // 2
        return float(np.mean(window[:half])), float(np.mean(window[half:]))

    def window_means(self) -> tuple[float, float] | None:
        """Mean loss over the older and the newer half of the last WINDOW_STEPS steps."""
        return self._window_means

    def failing(self) -> bool:
        """Learning has stalled or broken down: after a full window the loss is no better than guessing,
        or it stopped improving while still high."""
        means = self.window_means()
        if means is None:
            return False
        older, newer = means
        if not (math.isfinite(older) and math.isfinite(newer)):
            return True
        if self.chance_loss is not None and newer >= T.CHANCE_FRACTION * self.chance_loss:
            return True
        improvement = (older - newer) / max(abs(older), 1e-12)
        return improvement < T.STUCK_IMPROVEMENT and newer > T.STUCK_FRACTION_OF_INITIAL * self.initial_loss()

    def rising(self) -> float | None:
        """How many times the smoothed loss exceeds its best so far, while it is diverging (divergence.py)."""
        if self.trend is None or not self.trend.diverging:
            return None
        return self.trend.rise()


Rule = Callable[[Context], list[LayerEvidence]]


def saturation(ctx: Context) -> list[LayerEvidence]:
    failing = ctx.failing()
    # Heavy saturation counts while learning only early on (a bad start); later it is what a network that
    # learned confident features looks like (Nielsen's N(0, 1) sigmoid network reaches 95 % that way).
    early = ctx.now.step <= T.SATURATED_EARLY_STEPS
    return [
        (s.layer, {"saturated_fraction": round(s.saturated, 4), "mean_abs_z": round(abs(s.z_mean), 3),
                   "max_abs_z": round(s.z_max_abs, 3)})
        for s in ctx.now.layers[:-1]
        if (s.saturated >= T.SATURATED_HEAVILY and early) or (failing and s.saturated >= T.SATURATED_FRACTION)
    ]  # fmt: skip


def dead_units(ctx: Context) -> list[LayerEvidence]:
    return [
        (s.layer, {"dead_fraction": round(s.dead, 4), "over_samples": s.dead_samples, "z_mean": round(s.z_mean, 3)})
        for s in ctx.now.layers[:-1]
        if s.dead >= T.DEAD_FRACTION and s.dead_samples >= T.DEAD_SAMPLES
    ]


def underflow(ctx: Context) -> list[LayerEvidence]:
    if not ctx.failing():
        return []  # a learning run's tiny deltas are confident, correct outputs (p - t ~ 1e-30), not a disease
    found = []
    for s in ctx.now.layers:
        tiny = max(s.tiny_a, s.tiny_delta)
        if tiny >= T.TINY_FRACTION:
            found.append((s.layer, {"tiny_activation_fraction": round(s.tiny_a, 4),
                                    "tiny_delta_fraction": round(s.tiny_delta, 4), "below": T.TINY}))  # fmt: skip
    return found


def vanishing_gradient(ctx: Context) -> list[LayerEvidence]:
    if not ctx.failing() or len(ctx.now.layers) < 2:
        return []
    first = ctx.now.layers[0]
    ratio = ctx.now.gradient_ratio
    if (math.isfinite(ratio) and ratio < T.VANISHING_RATIO) or first.grad_norm < T.VANISHING_NORM:
        return [(first.layer, {"first_layer_grad_norm": first.grad_norm,
                               "last_layer_grad_norm": ctx.now.layers[-1].grad_norm,
                               "first_to_last_ratio": ratio})]  # fmt: skip
    return []


def exploding_gradient(ctx: Context) -> list[LayerEvidence]:
    found = []
    rising = ctx.rising() is not None
    for i, s in enumerate(ctx.now.layers):
        early = ctx.warmup_gradient_norms[i] if ctx.warmup_gradient_norms else None
        # Growth only counts from a norm that was not already vanishing: 1e-12 -> 1e-9 is no explosion.
        grown = early is not None and early > T.VANISHING_NORM and s.grad_norm > T.EXPLODING_GROWTH * early
        if not math.isfinite(s.grad_norm) or (rising and (s.grad_norm > T.EXPLODING_NORM or grown)):
            found.append((s.layer, {"grad_norm": s.grad_norm, "warmup_grad_norm": early if early else 0.0}))
    return found


def lr_too_high(ctx: Context) -> list[LayerEvidence]:
    rise = ctx.rising()
    if rise is None:
        return []
    ratios = [s.update_ratio for s in ctx.now.layers if math.isfinite(s.update_ratio)]
    return [(None, {"loss_over_best": round(rise, 3), "max_update_ratio": max(ratios, default=0.0)})]


def lr_too_low(ctx: Context) -> list[LayerEvidence]:
    if not ctx.failing():
        return []
    ratios = [s.update_ratio for s in ctx.now.layers if math.isfinite(s.update_ratio)]
    if ratios and max(ratios) < T.UPDATE_RATIO_LOW:
        return [(None, {"max_update_ratio": max(ratios), "healthy_ratio": 1e-3})]
    return []


def oscillation(ctx: Context) -> list[LayerEvidence]:
    if len(ctx.losses) < T.WINDOW_STEPS or not ctx.failing():
        return []
    window = np.asarray(ctx.losses[-T.WINDOW_STEPS :])
    means = window.reshape(20, -1).mean(axis=1)  # 20 chunks: steps noise averaged out
    diffs = np.diff(means)
    signs = np.sign(diffs)
    changes = float(np.mean(signs[1:] != signs[:-1]))
    amplitude = float(np.mean(np.abs(diffs)) / max(abs(float(means.mean())), 1e-12))
    if changes >= T.OSCILLATION_SIGN_CHANGES and amplitude >= T.OSCILLATION_AMPLITUDE:
        return [(None, {"sign_change_share": round(changes, 3), "relative_amplitude": round(amplitude, 3)})]
    return []


def plateau(ctx: Context) -> list[LayerEvidence]:
    means = ctx.window_means()
    if means is None or not ctx.failing():
        return []
    return [(None, {"loss_older_half": round(means[0], 5), "loss_newer_half": round(means[1], 5),
                    "initial_loss": round(ctx.initial_loss(), 5)})]  # fmt: skip


# Checked in this order; `plateau` only counts when nothing more specific explains the stall.
RULES: dict[str, Rule] = {
    "saturation": saturation,
    "dead_units": dead_units,
    "underflow": underflow,
    "vanishing_gradient": vanishing_gradient,
    "exploding_gradient": exploding_gradient,
    "lr_too_high": lr_too_high,
    "lr_too_low": lr_too_low,
    "oscillation": oscillation,
    "plateau": plateau,
}

