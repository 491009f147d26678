"""kill -9 in the middle of training, resume, and end bit-identical to a run that was never interrupted."""

import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gradwise.cli.main import main

FLAGS = ["--limit-train", "1500", "--validation", "300", "--hidden", "48", "--epochs", "3", "--batch-size", "25"]
FLAGS += ["--dropout", "0.2", "--checkpoint-every", "4", "--seed", "3", "--optimizer", "adam", "--lr", "0.003"]


def gradwise(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "gradwise", *args], capture_output=True, text=True, **kwargs)


def weights(folder):
    with np.load(folder / "model.npz") as archive:
        return {k: archive[k] for k in archive.files if k != "__meta__"}


def checkpoint_step(folder):
    try:
        with np.load(folder / "checkpoint.npz") as archive:
            return json.loads(str(archive["__run__"]))["step"]
    except (OSError, KeyError, ValueError):  # not written yet
        return -1


def metrics(folder):
    lines = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in line.items() if k != "seconds"} for line in lines]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kill_and_resume_is_bit_identical(tmp_path, dtype):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    assert gradwise("train", *FLAGS, "--dtype", dtype, "--out", str(straight), "--json").returncode == 0

    seed = random.randrange(10**6)
    process = subprocess.Popen(
        [sys.executable, "-m", "gradwise", "train", *FLAGS, "--dtype", dtype, "--out", str(killed), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Kill at a random step: as soon as a checkpoint at or past it is on disk (1500 / 25 = 60 steps an epoch).
    kill_at = random.Random(seed).randrange(8, 120)
    deadline = time.monotonic() + 300
    while checkpoint_step(killed) < kill_at and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, f"the run ended before the kill (random seed {seed})"

    resumed = gradwise("train", "--resume", str(killed), "--json")
    assert resumed.returncode == 0, resumed.stderr
    expected, got = weights(straight), weights(killed)
    assert expected.keys() == got.keys()
    for name in expected:
        assert got[name].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got[name], expected[name], err_msg=f"{name} (random seed {seed})")
    assert metrics(killed) == metrics(straight)  # no duplicated or missing epochs
    assert [m["epoch"] for m in metrics(killed)] == [1, 2, 3]


def test_resume_errors(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert "no such run folder" in capsys.readouterr().err
    (tmp_path / "run").mkdir()
    assert main(["train", "--resume", str(tmp_path / "run")]) == 2
    assert "holds no checkpoint.npz; start runs with --checkpoint-every N" in capsys.readouterr().err
    (tmp_path / "run" / "checkpoint.npz").write_bytes(b"junk")
    assert main(["train", "--resume", str(tmp_path / "run"), "--lr", "0.1"]) == 2
    assert capsys.readouterr().err == "error: --resume continues a run as it was configured; drop --lr\n"


SMALL = ["--limit-train", "300", "--validation", "100", "--hidden", "16", "--batch-size", "50", "--seed", "1"]


def run_state(folder):
    with np.load(folder / "checkpoint.npz") as archive:
        return json.loads(str(archive["__run__"]))


def test_a_run_resumed_on_the_other_blas_path_says_so(tmp_path):
    folder = tmp_path / "run"
    first = gradwise("train", *SMALL, "--max-steps", "3", "--checkpoint-every", "2", "--out", str(folder))
    assert first.returncode == 0, first.stderr
    assert run_state(folder)["blas"] == "openblas"
    resumed = gradwise("train", "--resume", str(folder), env={**os.environ, "GRADWISE_BLAS": "numpy"})
    assert resumed.returncode == 0, resumed.stderr
    expected = (
        "resume: the checkpoint was written on the openblas BLAS path and this process takes the numpy path; "
        "the numbers can differ from an uninterrupted run in the last bits"
    )
    assert expected in resumed.stdout.splitlines()
    saved = run_state(folder)["blas"]
    same = gradwise("train", "--resume", str(folder), env={**os.environ, "GRADWISE_BLAS": saved})
    assert same.returncode == 0, same.stderr
    assert "BLAS path" not in same.stdout


def test_a_finished_run_resumed_says_so_and_changes_nothing(tmp_path):
    folder = tmp_path / "run"
    first = gradwise("train", *SMALL, "--epochs", "2", "--checkpoint-every", "4", "--out", str(folder), "--json")
    assert first.returncode == 0, first.stderr
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    resumed = gradwise("train", "--resume", str(folder))
    assert resumed.returncode == 0, resumed.stderr
    assert f"resume: {folder} finished earlier (reached 2 epochs); nothing was trained or written" in resumed.stdout
    assert "epoch 3/2" not in resumed.stdout
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
    assert [m["epoch"] for m in metrics(folder)] == [1, 2]


def test_a_checkpoint_from_before_the_spawned_streams_is_refused_in_one_line(tmp_path):
    folder = tmp_path / "run"
    first = gradwise("train", *SMALL, "--max-steps", "3", "--checkpoint-every", "2", "--out", str(folder))
    assert first.returncode == 0, first.stderr
    with np.load(folder / "checkpoint.npz") as archive:
        arrays = {k: archive[k] for k in archive.files}
    state = json.loads(str(arrays["__run__"]))
    for key in ("streams", "finished", "blas"):  # what older checkpoints did not hold
        del state[key]
    arrays["__run__"] = np.array(json.dumps(state))
    np.savez(folder / "checkpoint.npz", **arrays)
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    resumed = gradwise("train", "--resume", str(folder))
    assert resumed.returncode == 2
    assert resumed.stderr == (
        f"error: {folder / 'checkpoint.npz'}: written by an older gradwise, whose data order came from other random "
        "streams, so it cannot continue exactly; start the run again without --resume\n"
    )
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before


@pytest.fixture(scope="module")
def checkpointed(tmp_path_factory):
    """A small run folder with a checkpoint, made once; each test damages a copy."""
    folder = tmp_path_factory.mktemp("checkpointed") / "run"
    assert main(["train", *SMALL, "--max-steps", "3", "--checkpoint-every", "2", "--out", str(folder)]) == 0
    return folder


def npy_member(header_shape, data=b"\0" * 16):
    """The bytes of a .npy member whose header declares ``header_shape`` of float32 and holds ``data``."""
    header = repr({"descr": "<f4", "fortran_order": False, "shape": header_shape}).encode()
    header += b" " * (63 - (10 + len(header)) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + data


def rezip(path, replace):
    import io
    import zipfile

    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    members.update(replace)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            if data is not None:
                z.writestr(name, data)
    path.write_bytes(buffer.getvalue())


@pytest.mark.parametrize(
    "damage, message",
    [
        pytest.param(  # np.load would allocate the 4 TiB the header declares before noticing anything
            {"param/0.W.npy": npy_member((2**40,))},
            "array param/0.W has shape (1099511627776,), the run needs (784, 16)",
            id="huge-declared-weight",
        ),
        pytest.param(
            {"{opt}.npy": npy_member((784, 16))},
            "array {opt} holds 16 bytes but its header declares 50176; the file is damaged: start the run again",
            id="short-optimizer-state",
        ),
        pytest.param({"__run__.npy": None}, "no __run__ entry: not a gradwise checkpoint", id="no-run-state"),
        pytest.param(
            {"__run__.npy": npy_member((), b"\0" * 4)}, "its run state is not a JSON object", id="run-state-not-text"
        ),
        pytest.param({"param/0.W.npy": None}, "param/0.W is missing or has the wrong shape", id="missing-weight"),
        pytest.param({"notes.txt": b"x"}, "holds 'notes.txt', which is not a NumPy array", id="stranger"),
    ],
)
def test_a_damaged_checkpoint_is_one_line_and_nothing_changes(checkpointed, tmp_path, capsys, damage, message):
    import shutil

    folder = tmp_path / "run"
    shutil.copytree(checkpointed, folder)
    with np.load(folder / "checkpoint.npz") as archive:  # the first weight's optimizer state, e.g. its velocity
        opt = next(k for k in archive.files if k.startswith("opt/") and archive[k].shape == (784, 16))
    rezip(folder / "checkpoint.npz", {name.format(opt=opt): data for name, data in damage.items()})
    before = {path.name: path.read_bytes() for path in folder.iterdir()}
    capsys.readouterr()
    assert main(["train", "--resume", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {folder / 'checkpoint.npz'}: ") and err.count("\n") == 1, err
    assert message.format(opt=opt) in err
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == before
