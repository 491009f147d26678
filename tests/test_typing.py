"""``mypy --strict`` is clean on the public API: every module a name in ``gradwise.__all__`` comes from.

The files checked are ``gradwise/__init__.py``, the module of every exported class and function, every
module of an exported subpackage (``optim``), and the public modules imported on their own
(``gradwise.sklearn``, ``gradwise.data.csv``). Imports are followed silently: mypy reads the rest of the
package for types but reports errors only in these files. Run ``python tests/test_typing.py`` to print the
exact command.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import gradwise

ROOT = Path(__file__).resolve().parents[1]
ALSO_PUBLIC = ("gradwise.sklearn", "gradwise.data.csv")


def public_modules() -> list[str]:
    """Dotted names of the modules that define what ``gradwise`` exports, and of the extra public modules."""
    found: set[str] = {"gradwise", *ALSO_PUBLIC}

    def visit(module: ModuleType) -> None:
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if isinstance(value, ModuleType):
                if value.__name__ not in found:
                    found.add(value.__name__)
                    visit(value)
            elif (defined := inspect.getmodule(value)) is not None and defined.__name__.startswith("gradwise"):
                found.add(defined.__name__)

    visit(gradwise)
    return sorted(found)


def mypy_command() -> list[str]:
    files = []
    for name in public_modules():
        path = ROOT / "src" / Path(*name.split("."))
        files.append(path / "__init__.py" if path.is_dir() else path.with_suffix(".py"))
    relative = [str(f.relative_to(ROOT)) for f in files]
    return [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", *relative]


def test_public_modules_cover_the_exports():
    modules = public_modules()
    assert {"gradwise.nn.network", "gradwise.train.loop", "gradwise.optim.transforms", "gradwise.sklearn"} <= set(
        modules
    )


def test_mypy_strict_is_clean_on_the_public_api():
    done = subprocess.run(mypy_command(), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr


if __name__ == "__main__":
    print(" ".join(["python", *mypy_command()[1:]]))
