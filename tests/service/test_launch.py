"""`make run`'s launcher: embedded Redis, one worker, the API. Ready; then SIGINT (Ctrl-C), SIGTERM or SIGHUP (the
terminal closed) stops everything it started; its Redis keeps its data in REDIS_DATA_DIR with an append-only file
across restarts, and nothing is left in the temporary folder."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx

from tests.api_calls import files
from tests.deployment import ROOT
from tests.serving import free_port


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


def descendants(pid: int) -> list[int]:
    result = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False)
    children = [int(line) for line in result.stdout.split()]
    return children + [grandchild for child in children for grandchild in descendants(child)]


def launch(checkpoint: Path, data: Path, temporary: Path) -> tuple[subprocess.Popen, str, list[int], str]:
    """The launcher once it printed its URL, the URL, every process it started (Redis, the worker supervisor, the
    worker) and what it printed until then. It says "starting" first, and prints the URL only once ready."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update(CHECKPOINT=str(checkpoint), PORT=str(port), WORKER_THREADS="1", REDIS_DATA_DIR=str(data),
               TMPDIR=str(temporary))
    launcher = subprocess.Popen([sys.executable, "-m", "service.launch"], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    printed = []
    for line in launcher.stdout:  # pytest's timeout bounds a launcher that never prints its URL
        printed.append(line)
        if f"{url}/" in line:
            break
    else:
        launcher.kill()
        raise AssertionError(f"the launcher exited without printing its URL: {''.join(printed)}")
    assert readiness(url) >= 1, f"the URL was printed before /readyz answered 200: {''.join(printed)}"
    assert printed[0].startswith("D2C faces: starting"), printed
    return launcher, url, descendants(launcher.pid), "".join(printed)


def stop_and_check(launcher: subprocess.Popen, started: list[int], stop_signal: int) -> str:
    """Send `stop_signal`; the launcher exits 0 and every process it started is gone within 30 s."""
    try:
        launcher.send_signal(stop_signal)
        output, _ = launcher.communicate(timeout=90)
        assert launcher.returncode == 0, output
        deadline = time.monotonic() + 30
        while any(alive(pid) for pid in started):
            assert time.monotonic() < deadline, f"processes started by the launcher outlived it: {output}"
            time.sleep(0.2)
        return output
    finally:
        for pid in [launcher.pid, *started]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_launch_serves_until_ctrl_c_and_then_stops_what_it_started(checkpoint, tmp_path):
    (tmp_path / "tmp").mkdir()
    launcher, url, started, printed = launch(checkpoint, tmp_path / "redis", tmp_path / "tmp")
    stop_and_check(launcher, started, signal.SIGINT)
    assert f"{url}/" in printed
    assert len(started) == 3, started  # Redis, the worker supervisor and its worker


def test_sighup_and_sigterm_stop_everything_and_redis_data_survives_restarts(checkpoint, tmp_path):
    data, temporary = tmp_path / "redis", tmp_path / "tmp"
    temporary.mkdir()
    launcher, url, started, _ = launch(checkpoint, data, temporary)
    try:
        defined = httpx.post(f"{url}/attributes", data={"name": "kept", "crop": "center"},
                             files=files("positive", 3) + files("negative", 3, 50), timeout=60)
        assert defined.status_code == 202, defined.text
        deadline = time.monotonic() + 120
        while httpx.get(f"{url}/attributes/kept").json()["status"] == "training":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        before = httpx.get(f"{url}/attributes/kept").json()
    finally:
        stop_and_check(launcher, started, signal.SIGHUP)  # the terminal closed
    assert before["status"] == "ready"
    assert (data / "appendonly.aof").stat().st_size > 0
    launcher, url, started, _ = launch(checkpoint, data, temporary)
    try:
        assert httpx.get(f"{url}/attributes/kept").json() == before
    finally:
        stop_and_check(launcher, started, signal.SIGTERM)
    assert list(temporary.iterdir()) == []
