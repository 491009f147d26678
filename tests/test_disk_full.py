"""When the disk says no: every write gradwise does ends in one line naming the file, with nothing lost.

The fault is simulated in-process: the writes (``os.write``, ``os.fsync``) to files under one folder fail with
ENOSPC or EROFS from the Nth on. One end-to-end test fills a real 11 MiB tmpfs (in a mount namespace).
"""

import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gradwise.cli.main import main
from gradwise.files import WriteFailed, append_line, atomic_write_text

SMALL = ["--limit-train", "600", "--validation", "100", "--hidden", "32", "--batch-size", "50", "--seed", "2",
         "--epochs", "2"]  # fmt: skip


class FailingDisk:
    """Makes writes to files under ``folder`` fail with ``code`` from the ``after + 1``-th on."""

    def __init__(self, monkeypatch, folder, after, code=errno.ENOSPC):
        self.folder, self.after, self.code, self.seen = str(folder), after, code, 0
        real_write, real_fsync = os.write, os.fsync

        def write(fd, data):
            self._maybe_fail(fd)
            return real_write(fd, data)

        def fsync(fd):
            self._maybe_fail(fd)
            return real_fsync(fd)

        monkeypatch.setattr(os, "write", write)
        monkeypatch.setattr(os, "fsync", fsync)

    name = None  # when set, only writes to this file (or its temporary) fail

    def _maybe_fail(self, fd):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return
        base = os.path.basename(target)
        if self.name is not None and base != self.name and not base.startswith(f".{self.name}."):
            return
        if target.startswith(self.folder):
            self.seen += 1
            if self.seen > self.after:
                raise OSError(self.code, os.strerror(self.code))


def one_error_line(capsys):
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


def weights(folder):
    with np.load(folder / "model.npz") as archive:
        return {k: archive[k] for k in archive.files if k != "__meta__"}


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The run never interrupted: what a resumed run must end as, bit for bit."""
    folder = tmp_path_factory.mktemp("straight") / "run"
    assert main(["train", *SMALL, "--checkpoint-every", "3", "--out", str(folder)]) == 0
    return folder


@pytest.mark.parametrize("after", [3, 6, 9, 14, 20])
def test_a_full_disk_mid_run_is_one_line_and_the_run_resumes_exactly(straight, tmp_path, monkeypatch, capsys, after):
    folder = tmp_path / "run"
    with monkeypatch.context() as patch:
        FailingDisk(patch, folder, after)
        assert main(["train", *SMALL, "--checkpoint-every", "3", "--out", str(folder)]) == 2
    line = one_error_line(capsys)
    assert f"error: {folder}/" in line and "the disk is full" in line
    assert not list(folder.glob(".*.tmp"))  # nothing half-written
    for log in [folder / name for name in ("metrics.jsonl", "health.jsonl") if (folder / name).exists()]:
        text = log.read_text()  # no torn last line
        assert text == "" or text.endswith("\n")
        [json.loads(row) for row in text.splitlines()]
    if "the last checkpoint, at step" not in line:
        assert "no checkpoint to resume from" in line
        return
    assert line.endswith(f"free space and run `gradwise train --resume {folder}`")
    assert main(["train", "--resume", str(folder)]) == 0
    expected, got = weights(straight), weights(folder)
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)


@pytest.mark.parametrize(
    "name", ["config.json", "metrics.jsonl", "health.jsonl", "checkpoint.npz", "model.npz", "repair.json"]
)
def test_each_file_of_a_run_refused_is_named_and_the_run_resumes_exactly(
    straight_repaired, tmp_path, monkeypatch, capsys, name
):
    folder = tmp_path / "run"
    argv = ["train", *SMALL, "--checkpoint-every", "3", "--repair", "--out", str(folder)]
    with monkeypatch.context() as patch:
        disk = FailingDisk(patch, folder, 1 if name == "checkpoint.npz" else 0)  # the second checkpoint fails
        disk.name = name
        assert main(argv) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: {folder / name}: the disk is full"), line
    assert not list(folder.glob(".*.tmp"))
    if "free space and run `gradwise train --resume" not in line:
        assert "no checkpoint to resume from" in line
        return
    assert main(["train", "--resume", str(folder)]) == 0
    expected, got = weights(straight_repaired), weights(folder)
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


@pytest.fixture(scope="module")
def straight_repaired(tmp_path_factory):
    folder = tmp_path_factory.mktemp("straight_repaired") / "run"
    assert main(["train", *SMALL, "--checkpoint-every", "3", "--repair", "--out", str(folder)]) == 0
    return folder


def test_a_read_only_disk_is_named(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "run"
    with monkeypatch.context() as patch:
        FailingDisk(patch, folder, 5, errno.EROFS)
        assert main(["train", *SMALL, "--checkpoint-every", "3", "--out", str(folder)]) == 2
    assert "the disk is read-only" in one_error_line(capsys)


def test_resume_of_an_unfinished_run_on_a_full_disk_refuses_before_training(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "run"
    with monkeypatch.context() as patch:
        FailingDisk(patch, folder, 9)
        assert main(["train", *SMALL, "--checkpoint-every", "3", "--out", str(folder)]) == 2
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    statvfs = os.statvfs(folder)
    for flag, blocks, words in ((0, 10, "the disk is full"), (os.ST_RDONLY, statvfs.f_bavail, "the disk is read-only")):
        fake = os.statvfs_result((*statvfs[:4], blocks, statvfs[5], statvfs[6], statvfs[7], statvfs[8] | flag,
                                  statvfs[9]))  # fmt: skip
        with monkeypatch.context() as patch:
            patch.setattr(os, "statvfs", lambda path, fake=fake: fake)
            assert main(["train", "--resume", str(folder)]) == 2
        line = one_error_line(capsys)
        assert words in line and "is intact" in line and f"gradwise train --resume {folder}" in line
        assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_an_append_that_runs_out_of_room_mid_line_leaves_no_torn_line(tmp_path, monkeypatch):
    log = tmp_path / "log.jsonl"
    append_line(log, json.dumps({"a": 1}))
    real_write = os.write
    with monkeypatch.context() as patch:
        patch.setattr(os, "write", lambda fd, data: real_write(fd, data[: len(data) // 2]))  # a short write
        with pytest.raises(WriteFailed, match="log.jsonl: the disk is full .*its earlier lines are intact"):
            append_line(log, json.dumps({"b": 2, "padding": "x" * 100}))
    assert log.read_text() == '{"a": 1}\n'


def test_an_atomic_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    atomic_write_text(path, "old")
    with monkeypatch.context() as patch:
        FailingDisk(patch, tmp_path, 0)
        with pytest.raises(WriteFailed, match="config.json: the disk is full .*the previous config.json is intact"):
            atomic_write_text(path, "new" * 100_000)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_a_sweep_on_a_full_disk_stops_cleanly_with_its_finished_trials_recorded(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "sweep"
    argv = ["sweep", "--grid", "lr=0.01,0.1,1", "--hidden", "16", "--limit-train", "300", "--validation", "100",
            "--max-steps", "20", "--jobs", "1", "--out", str(folder)]  # fmt: skip
    with monkeypatch.context() as patch:
        FailingDisk(patch, folder, 2)
        assert main(argv) == 2
    line = one_error_line(capsys)
    assert f"{folder}/" in line and "the disk is full" in line
    rows = (folder / "results.jsonl").read_text().splitlines()
    assert 1 <= len(rows) < 3 and all(json.loads(row)["key"] for row in rows)
    with monkeypatch.context() as patch:  # the map is drawn after the trials: its write refused alone
        disk = FailingDisk(patch, folder, 0)
        disk.name = "map.png"
        assert main(argv) == 2
    assert one_error_line(capsys).startswith(f"error: {folder / 'map.png'}: the disk is full")
    assert len((folder / "results.jsonl").read_text().splitlines()) == 3  # every trial recorded
    assert main(argv) == 0 and (folder / "map.png").is_file()  # room again: nothing is trained twice


def test_the_report_and_the_verify_example_on_a_read_only_disk_are_one_line(straight, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "run"
    shutil.copytree(straight, folder)
    with monkeypatch.context() as patch:
        FailingDisk(patch, folder, 0, errno.EROFS)
        assert main(["report", str(folder)]) == 2
    assert "the disk is read-only" in one_error_line(capsys)
    example = tmp_path / "example"
    with monkeypatch.context() as patch:
        FailingDisk(patch, example, 0, errno.EACCES)
        assert main(["verify", "--example", str(example)]) == 2
    assert "no permission to write there" in one_error_line(capsys)


def test_a_real_full_tmpfs_ends_in_one_line_and_resumes_elsewhere(tmp_path):
    # An 11 MiB tmpfs in a private mount namespace: a 784-1000-10 checkpoint is 6.4 MB, so the second one cannot
    # be written while the first stays.
    disk, copy = tmp_path / "disk", tmp_path / "copy"
    disk.mkdir()
    gradwise = f"{sys.executable} -m gradwise"
    script = (
        f"mount -t tmpfs -o size=11M tmpfs {disk} && "
        f"{gradwise} train --hidden 1000 --epochs 1 --limit-train 3000 --checkpoint-every 5 --out {disk}/x "
        f"2> {tmp_path}/train.err; echo $? > {tmp_path}/train.status; "
        f"{gradwise} train --resume {disk}/x 2> {tmp_path}/resume.err; echo $? > {tmp_path}/resume.status; "
        f"cp -r {disk}/x {copy}"
    )
    done = subprocess.run(["unshare", "--mount", "--map-root-user", "sh", "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    train_err = (tmp_path / "train.err").read_text()
    assert (tmp_path / "train.status").read_text().strip() == "2"
    assert train_err.startswith(f"error: {disk}/x/checkpoint.npz: the disk is full (the write needs about 6.4 MB free)")
    assert f"is intact: free space and run `gradwise train --resume {disk}/x`" in train_err
    assert (tmp_path / "resume.status").read_text().strip() == "2"
    assert "the disk is full" in (tmp_path / "resume.err").read_text()  # said before training
    resumed = subprocess.run([sys.executable, "-m", "gradwise", "train", "--resume", str(copy)], capture_output=True)
    assert resumed.returncode == 0 and (copy / "model.npz").is_file()
    assert Path(copy / "metrics.jsonl").read_text().count("\n") == 1
