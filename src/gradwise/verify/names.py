"""Tensor names as people write them: ``w0``, ``dW_1``, ``delta_2``, ``W1.after``, and layers counted from 1.

The trace format numbers weight layers from 0 (``W0`` is the first weight matrix, ``z0`` its pre-activation).
Code counts from 1 as often (``W1``, ``W2``; or, as in Ng's course, ``a1`` for the input and ``z2`` for the
first hidden layer). A family whose numbers are exactly the expected ones shifted by 1 or 2, with none at 0, is
renumbered, and the note says so. Case and an underscore before the number do not matter.

A normalized layer's tensors (``gamma``, ``beta``, ``dgamma``, ``dbeta``, the normalized ``xhat`` or ``zhat``, the
norm's output ``y`` or ``bn``) are numbered like its z: they exist for some layers only, so they take the shift of
the z family if the trace has one, else that of W.
"""

from __future__ import annotations

import re

from gradwise.verify.files import Tensors, TraceError

CANONICAL = {"x": "x", "t": "t", "loss": "loss", "w": "W", "b": "b", "dw": "dW", "db": "db", "z": "z", "a": "a"}
CANONICAL |= {"delta": "delta", "dz": "delta", "cost": "loss", "target": "t", "targets": "t", "y": "y"}  # courses
CANONICAL |= {"gamma": "gamma", "beta": "beta", "dgamma": "dgamma", "d_gamma": "dgamma", "dbeta": "dbeta"}
CANONICAL |= {"d_beta": "dbeta", "xhat": "xhat", "x_hat": "xhat", "zhat": "xhat", "z_hat": "xhat", "bn": "y"}
NORM_FAMILIES = ("gamma", "beta", "dgamma", "dbeta", "xhat", "y")
_NAME = re.compile(r"(?i)(d_?gamma|d_?beta|gamma|beta|[xz]_?hat|bn|y|dw|db|delta|dz|w|b|z|a)_?(\d+)((?:\.|_)after)?")


def canonical_names(tensors: Tensors, layers: int) -> tuple[Tensors, list[str]]:
    """The tensors under the format's names -> (renamed tensors, notes on what was renamed)."""
    parsed: dict[str, tuple[str, int, bool]] = {}
    plain: dict[str, str] = {}  # canonical name -> the name given
    notes: list[str] = []
    for name in tensors.values:
        match = _NAME.fullmatch(name)
        if match:
            parsed[name] = (CANONICAL[match[1].lower()], int(match[2]), bool(match[3]))
        else:
            key = CANONICAL.get(name.lower(), name)
            if key in plain:
                raise TraceError(
                    f"{tensors.sources[name]}: is {key} under the trace's names, but {key} is given as "
                    f"{tensors.sources[plain[key]]} too; keep one of them"
                )
            plain[key] = name
    if "t" not in plain and "y" in plain:  # Y for the targets, as in many courses
        plain["t"] = plain.pop("y")
        notes.append(f"{plain['t']} read as the targets t")
    renamed = Tensors()
    for new, name in plain.items():
        _add(renamed, new, tensors, name)
    shifts = _shifts(parsed, layers)
    order = ["W", "b", "dW", "db", "z", "a", "delta", *NORM_FAMILIES]
    for shift in sorted(set(shifts.values())):
        families = ", ".join(f for f in order if shifts.get(f) == shift)
        notes.append(f"{families} numbered from {shift}: read as numbered from 0 (layer 0 is the first weight layer)")
    for name, (family, index, after) in parsed.items():
        number = index - shifts.get(family, 0)
        if number < 0:
            notes.append(f"{name} is the input (x): not read")
            continue
        _add(renamed, f"{family}{number}{'.after' if after else ''}", tensors, name)
    return renamed, notes


def _add(into: Tensors, name: str, source: Tensors, original: str) -> None:
    try:
        rounding, absolute = source.rounding[original], source.absolute.get(original, 0.0)
        into.add(name, source.values[original], source.sources[original], rounding, absolute)
    except TraceError:
        raise TraceError(
            f"{source.sources[original]}: is {name} under the trace's names, but {name} is given as "
            f"{into.sources[name]} too; keep one of them"
        ) from None


def _shifts(parsed: dict[str, tuple[str, int, bool]], layers: int) -> dict[str, int]:
    """How far to shift each family down: one numbered 1..L or 2..L+1 (none at 0) by 1 or 2; activations that
    count the input too (L + 1 of them, a0 = x as in Nielsen's list, or a1 = x as in Ng's course) by one more,
    the input's number then falling below 0."""
    shifts = {}
    for family in {f for f, _, _ in parsed.values()}:
        indices = {i for f, i, after in parsed.values() if f == family and not after}
        for shift in (1, 2):
            if indices and 0 not in indices and indices == set(range(shift, shift + layers)):
                shifts[family] = shift
        for first in (0, 1):  # the input counted as an activation: a{first} = x
            if family == "a" and indices == set(range(first, first + layers + 1)):
                shifts[family] = first + 1
    families = {f for f, _, _ in parsed.values()}
    like = shifts.get("z", 0) if "z" in families else shifts.get("W", 0)
    for family in families & set(NORM_FAMILIES):  # some layers only: numbered as the layers' z (or W) are
        shifts.pop(family, None)
        if like:
            shifts[family] = like
    return shifts
