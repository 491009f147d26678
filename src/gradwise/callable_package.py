"""A package that is also a function: ``gw.train(config)``, ``gw.report(run)``.

``gradwise.train`` and ``gradwise.report`` stay packages of modules (``gradwise.train.runner``, ...), and calling
one runs what the layer on top registers for it (``gradwise.notebook`` registers its ``train`` and ``report`` when
``gradwise`` is imported, which importing either package does first). So neither package imports anything above
it, and this module imports nothing of gradwise.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any


class CallablePackage(types.ModuleType):
    """A module whose call runs ``called``, registered from above."""

    called: Callable[..., Any] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.called is None:
            raise TypeError(f"{self.__name__}(...) runs once gradwise is imported: import gradwise first")
        return self.called(*args, **kwargs)


def make_callable(package: str) -> None:
    """Let the package ``package`` (a name in ``sys.modules``) be called."""
    sys.modules[package].__class__ = CallablePackage


def register(package: str, function: Callable[..., Any]) -> None:
    """Calling the package ``package`` runs ``function``."""
    module = sys.modules[package]
    assert isinstance(module, CallablePackage), f"{package} is not a callable package"
    module.called = function
