"""Redis unreachable: every route that needs it answers a JSON 503 with Retry-After, and a job that may well exist
is never called unknown (404)."""
from __future__ import annotations

from fastapi.testclient import TestClient

from service.main import create_app
from tests.api_calls import files, queue_edit
from tests.deployment import embedded_redis, make_settings, publish_builtins
from tests.images import png


def test_a_redis_outage_is_a_json_503_with_retry_after_everywhere(tmp_path, checkpoint):
    server, url = embedded_redis(tmp_path)
    settings = make_settings(url, checkpoint, unavailable_retry_after=7)
    publish_builtins(settings, server)
    photo = {"image": ("p.png", png(), "image/png")}
    with TestClient(create_app(settings)) as client:
        job_id = queue_edit(client)
        assert client.get(f"/jobs/{job_id}").json()["status"] == "queued"
        server.shutdown()
        answers = {
            "job": client.get(f"/jobs/{job_id}"),
            "result": client.get(f"/jobs/{job_id}/result/0"),
            "attributes": client.get("/attributes"),
            "attribute": client.get("/attributes/smiling"),
            "delete": client.delete("/attributes/anything"),
            "define": client.post("/attributes", data={"name": "new_one"}, files=files("positive", 5)),
            "edit": client.post("/manipulate", params={"attr": "smiling"}, files=photo),
            "waited edit": client.post("/manipulate", params={"attr": "smiling", "wait": 5}, files=photo),
            "generate": client.post("/generate", params={"attr": "smiling"}),
            "metrics": client.get("/metrics"),
        }
        for name, response in answers.items():
            assert response.status_code == 503, (name, response.status_code, response.text)
            assert response.headers["Retry-After"] == "7", name
            assert "Redis" in response.json()["detail"], name
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
