"""The contract imports neither side, nor torch, nor the web stack."""
from __future__ import annotations

from tests.deployment import packages_loaded_by

CONTRACT = "contract.jobs, contract.attributes, contract.images, contract.metrics, contract.payloads, contract.settings"


def test_the_contract_loads_neither_side_nor_torch_nor_the_web_stack():
    forbidden = {"torch", "numpy", "fastapi", "starlette", "prometheus_client", "service", "workers", "model"}
    assert packages_loaded_by(CONTRACT) & forbidden == set()
