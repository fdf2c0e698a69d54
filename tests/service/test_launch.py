"""`make run`'s launcher: embedded Redis, one worker, the API; ready, then Ctrl-C stops everything."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.deployment import ROOT

START_SECONDS = 180


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def readiness(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
            return json.load(response)["workers"]
    except OSError:
        return 0


def alive(pid: int) -> bool:
    """Running, not a zombie waiting to be reaped."""
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split()[2] != "Z"


def children_of(pid: int) -> list[int]:
    result = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False)
    return [int(line) for line in result.stdout.split()]


def test_launch_serves_until_ctrl_c_and_then_stops_what_it_started(checkpoint):
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update(CHECKPOINT=str(checkpoint), PORT=str(port), WORKER_THREADS="1")
    launcher = subprocess.Popen([sys.executable, "-m", "service.launch"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while readiness(url) < 1:
            assert launcher.poll() is None, launcher.stdout.read()
            assert time.monotonic() < deadline, "the launched service never became ready"
            time.sleep(0.5)
        started = children_of(launcher.pid)
        assert started, "the launcher started no worker or Redis process"
        launcher.send_signal(signal.SIGINT)
        output, _ = launcher.communicate(timeout=90)
    finally:
        if launcher.poll() is None:
            launcher.kill()
    assert f"http://127.0.0.1:{port}/" in output
    assert launcher.returncode == 0, output
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in started):
        assert time.monotonic() < deadline, "processes started by the launcher outlived it"
        time.sleep(0.2)
