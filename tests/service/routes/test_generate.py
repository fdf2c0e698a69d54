"""POST /generate: n PNGs at the model's resolution, and its bad inputs."""
from __future__ import annotations

import pytest

from tests.api_calls import poll
from tests.images import decoded


def test_generate_makes_n_pngs(client):
    response = client.post("/generate", params={"attr": "smiling", "n": 3, "seed": 1})
    assert response.status_code == 202, response.text
    status = poll(client, response.json()["job_id"])
    assert status["status"] == "finished", status
    assert status["kind"] == "generate"
    assert status["result_urls"] == [f"/jobs/{status['job_id']}/result/{index}" for index in range(3)]
    for url in status["result_urls"]:
        image = client.get(url)
        assert image.status_code == 200 and image.headers["content-type"] == "image/png"
        assert decoded(image.content).size == (32, 32)
    assert client.get(f"/jobs/{status['job_id']}/result/3").status_code == 404


def test_a_condition_nothing_satisfies_fails_with_a_reason(client, redis):
    # a classifier with probability ~0 everywhere, written straight to Redis after the worker started
    import torch

    from contract import attributes
    from model.attributes import AttributeClassifier
    from tests.deployment import TINY

    weights = torch.zeros(TINY.latent_channels * TINY.latent_size**2)
    never = AttributeClassifier("never", "binary", weights, -50.0, TINY.latent_shape)
    attributes.begin_version(redis, "never", "hand-made", {"positives": 2, "negatives": 2})
    assert attributes.finish_version(redis, "never", "hand-made", "binary", {}, *never.to_bytes())
    response = client.post("/generate", params={"attr": "never", "n": 2})
    status = poll(client, response.json()["job_id"])
    assert status["status"] == "failed"
    assert "no sample was accepted" in status["error"]
    attributes.delete(redis, "never")


@pytest.mark.parametrize("params, status", [
    ({"attr": "smiling", "n": 0}, 422),
    ({"attr": "smiling", "n": 65}, 422),
    ({"attr": "smiling", "seed": -1}, 422),
    ({"n": 2}, 422),
    ({"attr": "unicorn"}, 404),
])
def test_bad_generate_requests(client, params, status):
    assert client.post("/generate", params=params).status_code == status
