"""``gradwise sweep --ray`` on a real two-node Ray cluster on 127.0.0.1 gives the numbers a local run gives."""

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import ray
import ray._private.services

from gradwise.cli.main import main

ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
SMALL = ["--limit-train", "300", "--validation", "100", "--hidden", "16"]
GRID = ["--grid", "lr=0.05,0.5", "--grid", "batch_size=30,100"]
NODE = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1", "--object-store-memory", "100000000"]

# On Linux Ray swaps 127.0.0.1 for the machine's network address wherever it meets it (node IPs, --address,
# ray.init). This test talks to the loopback only, so `ray start` runs with that swap turned off, and so
# does this process, for the test's length.
KEEP_LOOPBACK = "ray._private.services.resolve_ip_for_localhost = lambda host: host"
RAY_CLI = f"import sys, ray._private.services; {KEEP_LOOPBACK}; from ray.scripts.scripts import main; sys.exit(main())"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ray_start(*args):
    done = subprocess.run(
        [sys.executable, "-c", RAY_CLI, "start", "--disable-usage-stats", *NODE, *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=90,
    )
    said = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)  # without the colours
    assert done.returncode == 0, said
    assert "Local node IP: 127.0.0.1" in said, said


def alive_cpus(address):
    ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    try:
        return sorted(n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"])
    finally:
        ray.shutdown()


def numbers(out):
    """Each trial's record but for wall times and the host: what the same seeds must reproduce."""
    found = {}
    for line in (out / "results.jsonl").read_text().splitlines():
        record = json.loads(line)
        record["history"] = [{k: v for k, v in h.items() if k != "seconds"} for h in record["history"]]
        found[record["key"]] = {k: v for k, v in record.items() if k not in ("seconds", "host")}
    return found


def test_a_sweep_on_a_two_node_ray_cluster_matches_a_local_run(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(ray._private.services, "resolve_ip_for_localhost", lambda host: host)  # loopback only
    address = f"127.0.0.1:{free_port()}"
    try:
        ray_start("--head", "--port", address.split(":")[1], "--include-dashboard=false")
        ray_start("--address", address)
        deadline = time.monotonic() + 30
        while (cpus := alive_cpus(address)) != [1.0, 1.0] and time.monotonic() < deadline:
            time.sleep(1)
        assert cpus == [1.0, 1.0]  # a head and one more worker node, one CPU each
        assert main(["sweep", *SMALL, *GRID, "--ray", address, "--out", str(tmp_path / "ray")]) == 0
    finally:
        ray_bin = str(Path(sys.executable).with_name("ray"))
        subprocess.run([ray_bin, "stop", "--force"], env=ENV, capture_output=True, timeout=90)
    printed = capsys.readouterr().out
    assert f"running 4 trials on Ray at {address}" in printed

    assert main(["sweep", *SMALL, *GRID, "--jobs", "2", "--out", str(tmp_path / "local")]) == 0
    on_ray, local = numbers(tmp_path / "ray"), numbers(tmp_path / "local")
    assert len(on_ray) == 4 and on_ray == local
