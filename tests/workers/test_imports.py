"""Workers import the contract and the model, never the API package or the web stack."""
from __future__ import annotations

from tests.deployment import packages_loaded_by


def test_workers_load_neither_the_api_nor_fastapi():
    loaded = packages_loaded_by("workers.tasks, workers.batching, workers.process, workers.healthcheck")
    assert loaded & {"fastapi", "starlette", "service"} == set()
    assert {"contract", "model", "torch"} <= loaded
