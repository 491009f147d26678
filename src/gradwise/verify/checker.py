"""The walk through one traced step in data-flow order: compare, then name each wrong tensor's bug.

Each tensor is compared twice: with the float64 reference (is it right?) and with a local reference built from
the user's own upstream tensors (is its own computation right?). Right locally but not globally means it only
inherits an earlier error: it is downstream. Wrong locally means a bug here, and the hypotheses name it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from gradwise.verify import compare as C
from gradwise.verify import hypotheses as H
from gradwise.verify import reference as R
from gradwise.verify.origin import non_finite_origin
from gradwise.verify.report import NOTE_KINDS, Finding, TensorCheck
from gradwise.verify.trace import Trace

Array = np.ndarray
EXACT = 1e-9  # relative errors below this are round-off: hypotheses this close tie
# A single number always fits some constant times another: for the loss only these factors mean something,
# a missing ½ (2), a mean over the batch or the outputs where a sum is declared, or the other way round.
LOSS_FACTORS = (1.0, 2.0, 0.5)


@dataclass
class Outcome:
    """How one tensor fared: its status, the convention factor it matched under, an accepted hypothesis."""

    status: str
    scale: float = 1.0
    accepted: H.Hypothesis | None = None


@dataclass
class Walk:
    """State of the walk: checks and findings so far, and the user's effective tensors for what follows."""

    trace: Trace
    ref: R.Reference
    checks: list[TensorCheck] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    wrong_seen: bool = False  # a wrong tensor upstream: later mismatches that follow from it are downstream
    unknown: bool = False  # a wrong tensor upstream whose value is unknown: later mismatches cannot be judged
    z: dict[int, Array] = field(default_factory=dict)
    a: dict[int, Array] = field(default_factory=dict)
    delta: dict[int, Array] = field(default_factory=dict)  # in the reference's scale (reduction included)
    upstream: dict[int, Array] = field(default_factory=dict)  # dL/da{i}, reference scale
    magnitude: dict[int, float] = field(default_factory=dict)  # delta{i}'s size without cancellation (see compare)
    lifted: dict[int, list[H.Hypothesis]] = field(default_factory=dict)  # delta hypotheses, for a delta not given

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def skip(self, name: str) -> None:
        self.checks.append(TensorCheck(name, "unchecked", None))

    # --- one tensor ------------------------------------------------------------------------------------------

    def check(
        self,
        name: str,
        layer: int | None,
        user: Array,
        ref: Array,
        local: Array,
        magnitude: float,
        hypotheses: Callable[[], list[H.Hypothesis]],
        fallback: Callable[[], tuple[str, str, str]],
        *,
        scales: Sequence[float] = (1.0,),
        forward: bool = False,
    ) -> Outcome:
        """Compare ``user`` with ``ref`` and ``local``; on a mismatch, record the finding that explains it.

        ``scales`` are the conventions the tensor may come in (a delta per sample: B); ``forward`` says a
        constant factor is a forward-pass error rather than a gradient's scale.
        """
        if not np.isfinite(user).all():
            return self._non_finite(name, layer, user, local)
        error, k = _best(user, ref, scales, magnitude)
        if error <= C.TOLERANCE:
            return self._record(name, Outcome("ok", k), error)
        local_error, k = _best(user, local, scales, magnitude)
        if local_error <= C.TOLERANCE:
            return self._record(name, Outcome("downstream" if self.wrong_seen else "note", k), error)
        if self.unknown:
            return self._record(name, Outcome("downstream"), error)
        outcome = self._explain(name, layer, user, local, magnitude, local_error, hypotheses, scales, forward)
        if outcome is None:
            kind, why, fix = ("shape", *_shape_words(name, user, local)) if user.shape != local.shape else fallback()
            self._find(kind, name, layer, local_error, None, why, fix)
            outcome = Outcome("wrong", k)  # k: the convention it is nearest
        return self._record(name, outcome, error)

    def _explain(
        self,
        name: str,
        layer: int | None,
        user: Array,
        local: Array,
        magnitude: float,
        local_error: float,
        hypotheses: Callable[[], list[H.Hypothesis]],
        scales: Sequence[float],
        forward: bool,
    ) -> Outcome | None:
        """The accepted hypothesis, else a constant factor, recorded as a finding -> the outcome; None if neither."""
        best = _accepted(user, hypotheses(), magnitude, scales)
        if best is not None:
            hypothesis, k, after = best
            self._find(hypothesis.kind, name, layer, local_error, after, hypothesis.explanation, hypothesis.fix)
            return Outcome("note" if hypothesis.kind in NOTE_KINDS else "wrong", k, hypothesis)
        c = self._constant_factor(user, local, scales)
        fit = None if c is None else _best(user, c * local, scales, magnitude)
        if c is None or fit is None or fit[0] > C.TOLERANCE:
            return None
        kind, explanation, fix = H.scaled(c, self.trace.batch, name, forward)
        self._find(kind, name, layer, local_error, fit[0], explanation, fix, factor=c)
        return Outcome("note" if kind in NOTE_KINDS else "wrong", c * fit[1])

    def _constant_factor(self, user: Array, local: Array, scales: Sequence[float]) -> float | None:
        """c with user ≈ c · k · local for the nearest convention k (a delta per sample), or None."""
        c = C.fitted_scale(user, local)
        if c is None or c == 0:
            return None
        c /= min(scales, key=lambda k: abs(math.log(abs(c) / k)))
        if user.size > 1:
            return c
        batch, outputs = self.trace.batch, self.trace.network.sizes[-1]
        factors = [f * b * o for f in LOSS_FACTORS for b in (1, batch, 1 / batch) for o in (1, outputs, 1 / outputs)]
        return next((f for f in factors if f != 1 and C.near(c, f)), None)

    def _non_finite(self, name: str, layer: int | None, user: Array, local: Array) -> Outcome:
        if self.wrong_seen:  # a NaN after an earlier error is most likely that error's consequence
            return self._record(name, Outcome("downstream"), math.inf)
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(user))[0])
        origin = non_finite_origin(self, name, layer)
        evidence: dict[str, float | str] = {"first_bad_entry": str(index), "value": str(user[index])}
        self._find("non_finite", name, layer, math.inf, None, origin[0], origin[1], evidence=evidence)
        self.unknown = True
        return self._record(name, Outcome("wrong"), math.inf)

    def _record(self, name: str, outcome: Outcome, error: float) -> Outcome:
        self.checks.append(TensorCheck(name, outcome.status, error))
        self.wrong_seen |= outcome.status == "wrong"
        return outcome

    def _find(
        self,
        kind: str,
        tensor: str,
        layer: int | None,
        before: float,
        after: float | None,
        explanation: str,
        fix: str,
        *,
        factor: float | None = None,
        evidence: dict[str, float | str] | None = None,
    ) -> None:
        evidence = dict(evidence or {})
        if before != math.inf or not evidence:
            evidence["error"] = _rounded(before)
        if after is not None:
            evidence["error_under_hypothesis"] = _rounded(after)
        if factor is not None:
            evidence["factor"] = round(factor, 6)
        for i, earlier in enumerate(self.findings):  # the same slip again (e.g. every gradient times B): one finding
            if earlier.kind == kind and earlier.explanation.replace(earlier.tensor, tensor) == explanation:
                also = f"{earlier.evidence['also_at']}, {tensor}" if "also_at" in earlier.evidence else tensor
                self.findings[i] = Finding(**{**earlier.__dict__, "evidence": {**earlier.evidence, "also_at": also}})
                return
        self.findings.append(Finding(kind, tensor, layer, evidence, explanation, fix))


def _best(user: Array, ref: Array, scales: Sequence[float], magnitude: float) -> tuple[float, float]:
    """(smallest relative error of user against k * ref over the scales k, that k)."""
    return min(((C.relative_error(user, k * ref, k * magnitude), k) for k in scales), key=lambda e: e[0])


def _accepted(
    user: Array, hypotheses: list[H.Hypothesis], magnitude: float, conventions: Sequence[float]
) -> tuple[H.Hypothesis, float, float] | None:
    """The hypothesis that reproduces user best, within tolerance -> (it, its factor, its error); else None.

    Each is tried under the tensor's conventions (a delta per sample) times the hypothesis's own factors.
    """
    best: tuple[H.Hypothesis, float, float] | None = None
    for hypothesis in hypotheses:
        if hypothesis.candidate.shape != user.shape:
            continue
        scales = sorted({k * h for k in conventions for h in hypothesis.scales})
        error, k = _best(user, hypothesis.candidate, scales, magnitude)
        # Errors at round-off level tie, and the earlier (more specific) hypothesis wins the tie.
        if error <= C.TOLERANCE and (best is None or max(error, EXACT) < max(best[2], EXACT)):
            best = (hypothesis, k, error)
    return best


def _shape_words(name: str, user: Array, local: Array) -> tuple[str, str]:
    expected = "×".join(map(str, local.shape)) or "a scalar"
    got = "×".join(map(str, user.shape)) or "a scalar"
    square = user.ndim == 2 and user.shape[0] == user.shape[1] and user.shape != local.shape
    why = f"{name} has shape {got}, where {expected} is needed, and no known slip gives that shape"
    if square:
        why += (
            f"; a {got} tensor usually comes from broadcasting a (B,) vector against a (B, 1) one (e.g. y − t "
            "with one of them flattened)"
        )
    return why + ".", "keep every per-sample tensor 2-D, (B, n), and check the shapes of y and t before subtracting."


def _rounded(value: float) -> float:
    return float(f"{value:.3g}") if math.isfinite(value) else value
