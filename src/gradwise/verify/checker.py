"""The walk through one traced step in data-flow order: compare, then name each wrong tensor's bug.

Each tensor is compared twice: with the float64 reference (is it right?) and with a local reference built from
the user's own upstream tensors (is its own computation right?). Right locally but not globally means it only
inherits an earlier error: it is downstream. Wrong locally means a bug here, and the suspects name it, simplest
first: one known slip; the right tensor times a constant; one slip times a constant; two slips at once. What
none of them reproduces is said to match no known form, and no part of it is blamed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

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
FITTED_CONSTANT_MIN_SIZE = 4  # a constant fitted to fewer numbers than this would explain anything


# A slip upstream, the layer's output it gives (what feeds the next layer), and how to take it as the user's values.
Lifted = tuple[H.Slip, Array, Callable[[], None]]


def _no_pairs() -> list[H.Hypothesis]:
    return []


def usable(user: Array | None, local: Array) -> bool:
    """The user's tensor can stand in for the local one downstream: given, same shape, finite."""
    return user is not None and user.shape == local.shape and bool(np.isfinite(user).all())


@dataclass(frozen=True)
class Suspects:
    """What may have gone wrong in one tensor: single slips, pairs of slips, and the words when nothing fits."""

    singles: Callable[[], list[H.Hypothesis]]
    fallback: Callable[[], tuple[str, str, str]]
    pairs: Callable[[], list[H.Hypothesis]] = _no_pairs


@dataclass(frozen=True)
class Decay:
    """Weight decay that may sit inside a gradient: user = dL/dθ + c·P for one of ``parameters`` (L2).

    ``fixed`` is a declared c; None fits it (c > 0).
    """

    parameters: tuple[Array, ...]
    fixed: float | None = None


@dataclass(frozen=True)
class Fit:
    """How well a user's tensor fits a reference: the error, under which convention factor, less what decay."""

    error: float
    scale: float = 1.0
    decay: float = 0.0  # the L2 coefficient taken out
    removed: Array | float = 0.0  # decay times the parameters it multiplies


@dataclass
class Outcome:
    """How one tensor fared: its status, the convention factor it matched under, an accepted hypothesis."""

    status: str
    scale: float = 1.0
    accepted: H.Hypothesis | None = None
    error: float | None = None  # the error under an accepted convention, shown instead of the plain one


@dataclass
class Met:
    """Conventions met on the walk: for the report's conventions, and for choosing between readings."""

    deltas: str = ""  # "dL/dz", "per sample" or "already divided by B", once a delta matched
    delta_scale: float | None = None  # the factor that convention puts on every delta
    loss: str = ""  # "ok", "variant" (clipped, summed, after the step, ...) or "unexplained"
    loss_other_reduction: bool = False  # the loss on file is the other reduction's (a mean for summed gradients)
    update_checked: bool = True
    optimizer: str = ""  # an optimizer read off the update, when none is declared


@dataclass
class Walk:
    """State of the walk: checks and findings so far, and the user's effective tensors for what follows."""

    trace: Trace
    ref: R.Reference
    tol: C.Tolerance = field(default_factory=C.Tolerance)
    checks: list[TensorCheck] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    wrong_seen: bool = False  # a wrong tensor upstream: later mismatches that follow from it are downstream
    unknown: bool = False  # a wrong tensor upstream whose value is unknown: later mismatches cannot be judged
    unexplained: int = 0  # wrong tensors no known slip reproduces
    unscaled: set[str] = field(default_factory=set)  # tensors that match with no constant factor
    compensated: set[str] = field(default_factory=set)  # gradients whose factor their update takes back out
    factor: float = 1.0  # a constant every gradient carries (a loss without its ½), once found
    adds: bool = False  # the user's update adds their gradient (error = t − y): their tensors were negated back
    z: dict[int, Array] = field(default_factory=dict)
    a: dict[int, Array] = field(default_factory=dict)
    delta: dict[int, Array] = field(default_factory=dict)  # in the reference's scale (reduction included)
    upstream: dict[int, Array] = field(default_factory=dict)  # dL/da{i}, reference scale
    magnitude: dict[int, float] = field(default_factory=dict)  # delta{i}'s size without cancellation (see compare)
    step_magnitude: dict[str, float] = field(default_factory=dict)  # a gradient's magnitude, for its update
    lifted: dict[int, list[H.Hypothesis]] = field(default_factory=dict)  # delta hypotheses, for a delta not given
    lifted_pairs: dict[int, Callable[[], list[H.Hypothesis]]] = field(default_factory=dict)  # built on demand
    decays: dict[str, float] = field(default_factory=dict)  # gradient -> the L2 coefficient found inside it
    removed: dict[str, Array | float] = field(default_factory=dict)  # gradient -> the L2 term taken out of it
    met: Met = field(default_factory=Met)
    # A normalized layer's values as the user has them (see verify.norm): xhat, std, y; dL/dy for dgamma and dbeta.
    xhat: dict[int, Array] = field(default_factory=dict)
    std: dict[int, Array] = field(default_factory=dict)
    y: dict[int, Array] = field(default_factory=dict)
    dy: dict[int, Array] = field(default_factory=dict)
    dy_magnitude: dict[int, float] = field(default_factory=dict)  # dL/dy{i}'s size without cancellation
    dy_of: dict[int, dict[int, Array]] = field(default_factory=dict)  # layer -> delta hypothesis (by id) -> its dL/dy
    y_magnitude: dict[int, float] = field(default_factory=dict)  # y{i}'s size without cancellation
    xhat_size: dict[int, Array] = field(default_factory=dict)  # xhat{i}'s entries, as far as the user's are known
    # Slips in layer i's norm not yet seen in a tensor on file: tried on the next one (a{i}, or z{i+1}).
    norm_lifted: dict[int, list[Lifted]] = field(default_factory=dict)

    def activation_input(self, i: int) -> Array:
        """What layer i's activation is applied to: y{i} for a norm before it, else z{i}."""
        return self.y[i] if self.trace.network.norm_before_activation(i) else self.z[i]

    def input_of(self, i: int) -> tuple[str, Array]:
        """Layer i's input, by name: x, a{i-1}, or y{i-1} when layer i-1 normalizes after its activation."""
        if i == 0:
            return "x", self.trace.x
        if self.trace.network.norm_after_activation(i - 1):
            return f"y{i - 1}", self.y[i - 1]
        return f"a{i - 1}", self.a[i - 1]

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def skip(self, name: str) -> None:
        self.checks.append(TensorCheck(name, "unchecked", None))

    def wrong_count(self) -> int:
        return sum(check.status == "wrong" for check in self.checks)

    # --- one tensor ------------------------------------------------------------------------------------------

    def check(
        self,
        name: str,
        layer: int | None,
        user: Array,
        ref: Array,
        local: Array,
        magnitude: float,
        suspects: Suspects,
        *,
        scales: Sequence[float] = (1.0,),
        forward: bool = False,
        decay: Decay | None = None,
    ) -> Outcome:
        """Compare ``user`` with ``ref`` and ``local``; on a mismatch, record the finding that explains it.

        ``scales`` are the conventions the tensor may come in (a delta per sample: B); ``forward`` says a
        constant factor is a forward-pass error rather than a gradient's scale; ``decay`` is L2 that may sit
        inside a gradient.
        """
        if not np.isfinite(user).all():
            return self._non_finite(name, layer, user, local)
        # A tensor written fixed-point (%f) is off by up to half its last decimal, however small its entries.
        written = self.trace.absolute.get(name, 0.0) * math.sqrt(user.size)
        magnitude += written / (C.ROUNDING * self.tol.u)
        own_scales = scales
        if self.factor != 1 and not forward:  # a constant the gradients were found to carry: now a convention
            scales = [*own_scales, *(k * self.factor for k in own_scales)]
        fit = self._fit(user, ref, scales, magnitude, decay)
        if fit.error <= self.tol.relative:
            if fit.scale not in own_scales:
                return self._record(name, self._carries_factor(name, fit), fit.error)
            if C.norm(ref) > self.tol.noise(magnitude) / self.tol.relative:
                self.unscaled.add(name)  # right at its own scale, not merely within round-off of 0
            return self._record(name, self._decayed(name, Outcome("ok", fit.scale), fit), fit.error)
        error = fit.error
        fit = self._fit(user, local, scales, magnitude, decay)
        if fit.error <= self.tol.relative:
            if fit.scale not in own_scales and not self.wrong_seen:
                return self._record(name, self._carries_factor(name, fit), error)
            status = "downstream" if self.wrong_seen else "note"
            return self._record(name, self._decayed(name, Outcome(status, fit.scale), fit), error)
        if self.unknown:
            return self._record(name, Outcome("downstream"), error)
        before = C.own_error(user - fit.removed, fit.scale * local)
        outcome = self._explain(name, layer, user, local, magnitude, before, suspects, scales, forward, decay)
        if outcome is None:
            self.unexplained += 1
            kind, why, fix = (
                ("shape", *_shape_words(name, user, local)) if user.shape != local.shape else suspects.fallback()
            )
            self._find([H.Slip(kind, why, fix)], name, layer, before, None)
            outcome = Outcome("wrong", fit.scale)  # the convention it is nearest
        return self._record(name, outcome, error if outcome.error is None else outcome.error)

    def _fit(self, user: Array, ref: Array, scales: Sequence[float], magnitude: float, decay: Decay | None) -> Fit:
        """The best fit of user to k·ref over the convention factors k, with decay taken out where it helps."""
        best = Fit(math.inf)
        for k in scales:
            target = k * ref
            fit = Fit(self.tol.error(user, target, k * magnitude), k)
            fitted = decay is not None and (decay.fixed is not None or user.size >= FITTED_CONSTANT_MIN_SIZE)
            if decay is None or not fitted or fit.error <= self.tol.relative:
                best = min(best, fit, key=lambda f: f.error)  # a free λ fitted to a few numbers explains anything
                continue
            for parameters in (p for p in decay.parameters if p.shape == user.shape == target.shape):
                c = decay.fixed if decay.fixed is not None else C.fitted_scale(user - target, parameters)
                if c is not None and c > 0:
                    error = self.tol.error(user - c * parameters, target, k * magnitude)
                    fit = min(fit, Fit(error, k, c, c * parameters), key=lambda f: f.error)
            best = min(best, fit, key=lambda f: f.error)
        return best

    def _carries_factor(self, name: str, fit: Fit) -> Outcome:
        """Right up to the constant factor found before: one more tensor where that finding also holds."""
        for i, finding in enumerate(self.findings):
            if finding.kind == "constant_scale" and finding.evidence.get("factor") == round(self.factor, 6):
                self.findings[i] = finding.also(name)
                break
        return self._decayed(name, Outcome("note", fit.scale), fit)

    def _decayed(self, name: str, outcome: Outcome, fit: Fit) -> Outcome:
        if fit.decay > 0:
            self.decays[name] = fit.decay
            self.removed[name] = fit.removed
        return outcome

    def _explain(
        self,
        name: str,
        layer: int | None,
        user: Array,
        local: Array,
        magnitude: float,
        before: float,
        suspects: Suspects,
        scales: Sequence[float],
        forward: bool,
        decay: Decay | None,
    ) -> Outcome | None:
        """The simplest explanation that reproduces ``user``, recorded as findings -> the outcome; None if none.

        A slip whose tensor is the right one (``delta.sum()`` for a single output unit) explains nothing: dropped.
        """
        singles = [h for h in suspects.singles() if h.convention or not self._is_right(h, local, magnitude)]
        accepted = self._accepted(user, singles, magnitude, scales, decay)
        if accepted is not None:
            return self._accept(name, layer, before, *accepted)
        right = H.Hypothesis("", local, "", "")
        scaled = self._times_constant(name, user, [right], magnitude, scales, decay)
        if scaled is None and not forward:  # below FITTED_CONSTANT_MIN_SIZE numbers, only the named factors
            scaled = self._times_constant(name, user, singles, magnitude, scales, decay)
        if scaled is not None:
            hypothesis, c, k, error = scaled
            kind, explanation, fix = H.scaled(c, self.trace.batch, name, forward, self.adds)
            slips = [s for s in hypothesis.slips() if s.kind] + [H.Slip(kind, explanation, fix)]
            self._find(slips, name, layer, before, error, factor=c)
            status = "note" if all(s.kind in NOTE_KINDS for s in slips) else "wrong"
            if hypothesis is right and status == "note" and self.factor == 1:
                self.factor = c  # the gradients' convention from here on: later tensors are judged with it
            # The right tensor times c: what follows is judged as the user's tensor divided by c.
            return Outcome(status, c * k if hypothesis is right else k)
        pairs = [h for h in suspects.pairs() if not self._is_right(h, local, magnitude)]
        pair = self._accepted(user, pairs, magnitude, scales, decay)
        return None if pair is None else self._accept(name, layer, before, *pair)

    def _is_right(self, h: H.Hypothesis, local: Array, magnitude: float) -> bool:
        return h.candidate.shape == local.shape and self.tol.matches(h.candidate, local, magnitude)

    def _accepted(
        self,
        user: Array,
        hypotheses: list[H.Hypothesis],
        magnitude: float,
        conventions: Sequence[float],
        decay: Decay | None,
    ) -> tuple[H.Hypothesis, float, float] | None:
        """The hypothesis that reproduces user best, within tolerance -> (it, its factor, its error); else None.

        Each is tried under the tensor's conventions (a delta per sample) times the hypothesis's own factors.
        """
        best: tuple[H.Hypothesis, float, float] | None = None
        for hypothesis in hypotheses:
            if hypothesis.candidate.shape != user.shape:
                continue
            scales = sorted({k * h for k in conventions for h in hypothesis.scales})
            fit = self._fit(user, hypothesis.candidate, scales, magnitude, decay)
            # Errors at round-off level tie, and the earlier (more specific) hypothesis wins the tie.
            if fit.error <= self.tol.relative and (best is None or max(fit.error, EXACT) < max(best[2], EXACT)):
                best = (hypothesis, fit.scale, fit.error)
        return best

    def _accept(self, name: str, layer: int | None, before: float, h: H.Hypothesis, k: float, error: float) -> Outcome:
        if h.convention:
            self.note(h.explanation)
            if h.compensates:
                self.compensated.add(h.compensates)
            return Outcome("downstream" if self.wrong_seen else "ok", k, h, error)
        self._find(h.slips(), name, layer, before, error)
        return Outcome("note" if all(s.kind in NOTE_KINDS for s in h.slips()) else "wrong", k, h)

    def _times_constant(
        self,
        name: str,
        user: Array,
        candidates: list[H.Hypothesis],
        magnitude: float,
        scales: Sequence[float],
        decay: Decay | None,
    ) -> tuple[H.Hypothesis, float, float, float] | None:
        """(hypothesis, c, k, error) with user ≈ c · k · candidate (+ L2): a constant c beyond the conventions k."""
        best: tuple[H.Hypothesis, float, float, float] | None = None
        decayed = 0.0
        for h in candidates:
            if h.convention or h.candidate.shape != user.shape:
                continue
            conventions = sorted({k * s for k in scales for s in h.scales})
            for removed, coefficient in _decay_terms(user, h.candidate, decay):
                adjusted = user - removed
                c = self._constant_factor(adjusted, h.candidate, conventions)
                total = C.fitted_scale(adjusted, h.candidate)
                if c is None or not total:
                    continue
                k = min(conventions, key=lambda s: abs(math.log(abs(total) / s)))
                error = self.tol.error(adjusted, c * k * h.candidate, abs(c * k) * magnitude)
                if error <= self.tol.relative and (best is None or error < best[3]):
                    best, decayed = (h, c, k, error), coefficient
        if best is not None and decayed > 0:
            self.decays[name] = decayed  # the L2 inside this gradient, as it stands there
        return best

    def _constant_factor(self, user: Array, local: Array, scales: Sequence[float]) -> float | None:
        """c with user ≈ c · k · local for the nearest convention k (a delta per sample), or None.

        Fewer than FITTED_CONSTANT_MIN_SIZE numbers fit any c: then only the factors a loss convention makes, or
        one this walk already found in an earlier tensor, count.
        """
        c = C.fitted_scale(user, local)
        if c is None or c == 0:
            return None
        c /= min(scales, key=lambda k: abs(math.log(abs(c) / k)))
        if self.tol.near(c, 1.0):
            return None
        if user.size >= FITTED_CONSTANT_MIN_SIZE:
            return c
        batch, outputs = self.trace.batch, self.trace.network.sizes[-1]
        factors = [f * b * o for f in LOSS_FACTORS for b in (1, batch, 1 / batch) for o in (1, outputs, 1 / outputs)]
        factors += [float(f.evidence["factor"]) for f in self.findings if "factor" in f.evidence]  # found upstream
        return next((s * f for f in factors for s in (1, -1) if s * f != 1 and self.tol.near(c, s * f)), None)

    def _non_finite(self, name: str, layer: int | None, user: Array, local: Array) -> Outcome:
        if self.wrong_seen:  # a NaN after an earlier error is most likely that error's consequence
            return self._record(name, Outcome("downstream"), math.inf)
        index = tuple(int(i) for i in np.argwhere(~np.isfinite(user))[0])
        origin = non_finite_origin(self.trace, self.z, self.a, name, layer)
        evidence: dict[str, float | str] = {"first_bad_entry": str(index), "value": str(user[index])}
        self._find([H.Slip("non_finite", *origin)], name, layer, math.inf, None, evidence=evidence)
        self.unknown = True
        return self._record(name, Outcome("wrong"), math.inf)

    def _record(self, name: str, outcome: Outcome, error: float) -> Outcome:
        self.checks.append(TensorCheck(name, outcome.status, error))
        self.wrong_seen |= outcome.status == "wrong"
        return outcome

    def _find(
        self,
        slips: list[H.Slip],
        tensor: str,
        layer: int | None,
        before: float,
        after: float | None,
        *,
        factor: float | None = None,
        evidence: dict[str, float | str] | None = None,
    ) -> None:
        """One finding per slip; slips found together name each other (``with``)."""
        shared = dict(evidence or {})
        if before != math.inf or not shared:
            shared["error"] = _rounded(before)
        if after is not None:
            shared["error_under_hypothesis"] = _rounded(after)
        if factor is not None:
            shared["factor"] = round(factor, 6)
        for slip in slips:
            others = [s.kind for s in slips if s is not slip]
            own = {**shared, "with": ", ".join(others)} if others else shared
            self._add(Finding(slip.kind, tensor, layer, own, slip.explanation, slip.fix))

    def _add(self, finding: Finding) -> None:
        for i, earlier in enumerate(self.findings):
            if earlier.same_slip(finding):
                self.findings[i] = earlier.also(finding.tensor)
                return
        self.findings.append(finding)

    def factor_of(self, name: str) -> float | None:
        """The factor a tensor was found to carry (a constant_scale or batch_scale finding at or also at it)."""
        for finding in self.findings:
            if (
                finding.kind in ("constant_scale", "batch_scale")
                and name in finding.places()
                and "factor" in finding.evidence
            ):
                return float(finding.evidence["factor"])
        return None

    def note_decays(self) -> None:
        """Say which gradients carried an L2 term, and the λ fitted (or declared)."""
        if not self.decays:
            return
        declared = self.trace.network.l2
        found = ", ".join(f"{name} λ = {c:.4g}" for name, c in self.decays.items())
        how = f"as network.json declares (l2 = {declared:g})" if declared else 'fitted; declare "l2" in network.json'
        self.note(f"the gradients include L2 weight decay, + λ·W: {found} ({how})")

    def settle_factors(self) -> None:
        """A constant factor is a convention only when every gradient carries it: a factor on some gradients while
        others match unscaled makes those layers step too far or too short, a bug. A factor B on every summed
        gradient that the update divides out again (Nielsen's w − (eta/m)·nabla_w) is a convention too."""
        # A step right against the reference, taken with a gradient that carries a factor, took the factor out.
        right_steps = {
            "d" + c.name.removesuffix(".after") for c in self.checks if c.name.endswith(".after") and c.status == "ok"
        }
        for i, finding in enumerate(self.findings):
            scaled = finding.places()
            updated = {name for name in scaled if name.startswith(("dW", "db"))}
            if finding.kind == "batch_scale" and updated and updated <= self.compensated | right_steps:
                why = f"{finding.explanation[:-1]}, and the update divides it by B again: the step is the mean's."
                self.findings[i] = replace(finding, explanation=why, bug=False)
                buggy = {f.tensor for f in self.findings if not f.is_note}  # a real slip there keeps it wrong
                self.checks = [replace(c, status="note") if c.name in scaled - buggy else c for c in self.checks]
                if not any(c.status == "wrong" for c in self.checks):  # what followed from it was right too
                    self.checks = [replace(c, status="note") if c.status == "downstream" else c for c in self.checks]
        gradients = {name for name in self.unscaled if name.startswith(("delta", "dW", "db", "dgamma", "dbeta"))}
        for i, finding in enumerate(self.findings):
            if finding.kind != "constant_scale" or "with" in finding.evidence or not gradients:
                continue
            scaled = finding.places()
            why = f"{finding.explanation[:-1]}; {', '.join(sorted(gradients))} carry no such factor, so it is a bug."
            self.findings[i] = replace(finding, explanation=why, bug=True)
            self.checks = [replace(c, status="wrong") if c.name in scaled else c for c in self.checks]


def _decay_terms(user: Array, candidate: Array, decay: Decay | None) -> list[tuple[Array | float, float]]:
    """What L2 may add to a gradient that is a constant times ``candidate``, with its coefficient as it stands in
    the gradient: nothing; the declared λ·P, scaled with the rest or not (Delta + λ/m Theta); or a multiple of a
    parameter P fitted together with the constant, so that λ = (its multiple) / (the constant) is > 0."""
    terms: list[tuple[Array | float, float]] = [(0.0, 0.0)]
    if decay is None:
        return terms
    for parameters in (p for p in decay.parameters if p.shape == user.shape):
        if decay.fixed is not None:
            terms.append((decay.fixed * parameters, decay.fixed))
            alpha = C.fitted_scale(user, candidate + decay.fixed * parameters)
            if alpha:
                terms.append((alpha * decay.fixed * parameters, alpha * decay.fixed))
            continue
        if user.size < FITTED_CONSTANT_MIN_SIZE:
            continue
        solved = C.least_squares(np.stack([candidate.ravel(), parameters.ravel()], axis=1), user.ravel())
        if solved is None:
            continue
        alpha, beta = solved[0]
        if alpha != 0 and beta / alpha > 0:
            terms.append((beta * parameters, float(beta)))
    return terms


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
