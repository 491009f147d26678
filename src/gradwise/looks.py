"""How an object reads, found by its type: as text (``repr``), as HTML (a notebook) and as a figure (``plot()``).

Presentation registers a renderer for each type it knows (``gradwise.display`` does, when ``gradwise`` is
imported); a domain class's ``__repr__``, ``_repr_html_`` and ``plot`` ask this registry. So nothing in ``nn``,
``health``, ``train`` or ``sweep`` imports what renders it, and this module imports nothing of gradwise.
"""

from __future__ import annotations

import html as escaping
from collections.abc import Callable
from typing import Any

Renderer = Callable[[Any], Any]
_RENDERERS: dict[tuple[str, type], Renderer] = {}


def register(
    kind: type, *, text: Renderer | None = None, html: Renderer | None = None, plot: Renderer | None = None
) -> None:
    """Render objects of ``kind`` (and its subclasses) with these functions."""
    for how, renderer in (("text", text), ("html", html), ("plot", plot)):
        if renderer is not None:
            _RENDERERS[how, kind] = renderer


def _renderer(how: str, thing: object) -> Renderer | None:
    for kind in type(thing).__mro__:
        if (how, kind) in _RENDERERS:
            return _RENDERERS[how, kind]
    return None


def text(thing: object) -> str:
    """The registered text of ``thing``, or ``<TypeName>`` when presentation registered none."""
    render = _renderer("text", thing)
    return str(render(thing)) if render is not None else f"<{type(thing).__name__}>"


def html(thing: object) -> str:
    """The registered HTML of ``thing``, or its text, escaped, in a <pre>."""
    render = _renderer("html", thing)
    return str(render(thing)) if render is not None else f"<pre>{escaping.escape(text(thing))}</pre>"


def plot(thing: object) -> Any:
    """The registered figure of ``thing``; LookupError when nothing draws its type."""
    render = _renderer("plot", thing)
    if render is None:
        raise LookupError(f"nothing draws a {type(thing).__name__}: import gradwise to register the charts")
    return render(thing)
