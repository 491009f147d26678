"""The installed package: a wheel built from this tree, installed (not editable) into a fresh venv, trains and runs.

Only gradwise comes from the wheel. Its dependencies (numpy, pillow, tqdm, matplotlib) are this
environment's, seen through one line in a .pth file, so the test needs no network; that line adds a
plain folder, whose own .pth files (this tree's editable install among them) Python does not read.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh venv holding the wheel of this tree."""
    folder = tmp_path_factory.mktemp("wheel")
    build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(folder)]
    subprocess.run([*build, str(ROOT)], check=True, capture_output=True, text=True)
    (wheel,) = folder.glob("gradwise-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert "gradwise/data/mnist/train-images-idx3-ubyte.gz" in names and "gradwise/__main__.py" in names
    env_dir = folder / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    (Path(purelib) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index"]
    subprocess.run([*install, str(wheel)], check=True, capture_output=True, text=True)
    return env_dir / "bin"


def run(command: list[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing from the source tree
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_the_package_imports_from_the_venv_not_the_tree(installed: Path, tmp_path: Path) -> None:
    where = run([installed / "python", "-c", "import gradwise; print(gradwise.__file__)"], tmp_path)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed.parent)


def test_python_m_gradwise_help(installed: Path, tmp_path: Path) -> None:
    result = run([installed / "python", "-m", "gradwise", "--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: gradwise")


def test_gradwise_train_runs_from_the_bundled_mnist(installed: Path, tmp_path: Path) -> None:
    result = run([installed / "gradwise", "train", "--epochs", "1", "--limit-train", "2000", "--out", "run"], tmp_path)
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.splitlines()[-1].removeprefix("test accuracy: "))
    assert accuracy > 0.5  # 16 steps: well past chance (0.1), far from trained
    assert (tmp_path / "run" / "model.npz").is_file()
