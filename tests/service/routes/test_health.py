"""Liveness, readiness with a worker up, Prometheus metrics, OpenAPI docs and the UI at /."""
from __future__ import annotations

import re

from tests.images import png


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_ready_with_a_worker(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["workers"] >= 1 and response.json()["redis"] is True


def metric(text: str, name: str, **labels) -> float:
    label_text = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = re.escape(name + (f"{{{label_text}}}" if labels else "")) + r" ([0-9.e+-]+)"
    match = re.search(pattern, text)
    assert match, f"{name} {labels} not in metrics"
    return float(match.group(1))


def test_metrics_count_requests_jobs_queues_and_workers(client):
    client.post("/manipulate", params={"attr": "smiling", "crop": "none", "wait": 60},
                files={"image": ("p.png", png(), "image/png")})
    text = client.get("/metrics").text
    assert metric(text, "d2c_http_requests_total", method="POST", route="/manipulate", status="200") >= 1
    assert metric(text, "d2c_job_seconds_count", kind="manipulate") >= 1
    assert metric(text, "d2c_job_seconds_bucket", kind="manipulate", le="+Inf") >= 1
    assert metric(text, "d2c_queue_depth", queue="manipulate") >= 0
    assert metric(text, "d2c_live_workers") >= 1


def test_openapi_and_docs(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/manipulate", "/attributes", "/attributes/{name}", "/generate", "/jobs/{job_id}",
                 "/jobs/{job_id}/result", "/jobs/{job_id}/result/{index}", "/healthz", "/readyz", "/metrics"):
        assert path in paths
    assert client.get("/docs").status_code == 200


def test_ui_is_served_at_root(client):
    response = client.get("/")
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    assert "<script" in response.text


def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.content.startswith(b"\x00\x00\x01\x00")  # an ICO header
    assert 'href="favicon.ico"' in client.get("/").text


def test_not_ready_when_redis_is_unreachable(settings):
    from fastapi.testclient import TestClient

    from service.main import create_app
    from tests.deployment import make_settings

    broken = create_app(make_settings("redis://127.0.0.1:1/0", settings.checkpoint))
    with TestClient(broken) as client:
        response = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert response.status_code == 503 and response.json()["redis"] is False
    assert "Redis unreachable" in response.json()["detail"]
