"""Security promises: per-client rate limit and queue bound (429 + Retry-After), CORS only when configured,
JSON-only job payloads, uploads stored under server-made keys, results only by unguessable job ids."""
from __future__ import annotations

import json
import pickle
import re
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from rq.exceptions import DeserializationError

from contract import attributes, jobs, keys
from contract.errors import QueueFull
from contract.payloads import GeneratePayload, ManipulatePayload
from service.main import create_app
from tests.api_calls import define, queue_edit
from tests.deployment import embedded_redis, make_settings, publish_builtins
from tests.images import png


@pytest.fixture()
def fresh_redis(tmp_path, checkpoint):
    server, url = embedded_redis(tmp_path)
    publish_builtins(make_settings(url, checkpoint), server)
    yield server, url
    server.shutdown()


def app_with(fresh_redis, checkpoint, **overrides) -> TestClient:
    return TestClient(create_app(make_settings(fresh_redis[1], checkpoint, **overrides)))


def test_a_full_queue_answers_429_with_retry_after(fresh_redis, checkpoint):
    with app_with(fresh_redis, checkpoint, queue_limit=2, queue_retry_after=7) as client:
        accepted = [queue_edit(client, seed) for seed in range(2)]
        refused = client.post("/manipulate", params={"attr": "smiling"}, files={"image": ("p.png", png(), "image/png")})
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "7"
        assert "queue is full" in refused.json()["detail"]
        assert jobs.queue(client.app.state.redis, keys.MANIPULATE_QUEUE).count == 2
        assert all(client.get(f"/jobs/{job_id}").json()["status"] == "queued" for job_id in accepted)
        assert len(client.app.state.redis.keys(keys.upload("*"))) == 2  # the refused photo is not kept


def test_the_queue_bound_holds_under_concurrent_requests(fresh_redis, checkpoint):
    redis, url = fresh_redis
    settings = make_settings(url, checkpoint, queue_limit=3)
    start = threading.Barrier(16)

    def submit(index: int) -> int:
        start.wait()
        try:
            jobs.enqueue(redis, settings, GeneratePayload(conditions=[], count=index))
            return 202
        except QueueFull:
            return 429

    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(submit, range(16)))
    waiting = jobs.queue(redis, keys.GENERATE_QUEUE).get_job_ids()
    assert statuses.count(202) == len(waiting) == 3  # the bound exactly: never over it, never all withdrawn
    assert statuses.count(429) == 16 - len(waiting)
    assert all(jobs.fetch(redis, job_id).kwargs["count"] in range(16) for job_id in waiting)


def test_a_client_over_its_rate_limit_gets_429_and_reads_still_work(fresh_redis, checkpoint):
    with app_with(fresh_redis, checkpoint, rate_limit=3) as client:
        statuses = [client.post("/generate", params={"attr": "smiling", "n": 1}).status_code for _ in range(4)]
        assert statuses == [202, 202, 202, 429]
        limited = client.post("/generate", params={"attr": "smiling", "n": 1})
        assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 60
        assert "rate limit" in limited.json()["detail"]
        assert client.get("/attributes").status_code == 200
    with TestClient(client.app, client=("203.0.113.9", 50000)) as other:
        assert other.post("/generate", params={"attr": "smiling", "n": 1}).status_code == 202  # its own budget


def test_cors_headers_only_for_configured_origins(fresh_redis, checkpoint):
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "X-API-Key"}
    with app_with(fresh_redis, checkpoint, cors_origins="https://faces.example") as client:
        allowed = client.options("/attributes", headers={"Origin": "https://faces.example", **preflight})
        assert allowed.headers["access-control-allow-origin"] == "https://faces.example"
        other = client.options("/attributes", headers={"Origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in other.headers
    with app_with(fresh_redis, checkpoint) as client:
        assert "access-control-allow-origin" not in client.get("/attributes", headers={"Origin": "https://faces.example"}).headers


def test_job_payloads_are_json_and_a_planted_pickle_is_never_loaded(fresh_redis, checkpoint, tmp_path):
    marker = tmp_path / "unpickled"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with app_with(fresh_redis, checkpoint) as client:
        job_id = queue_edit(client)
        redis = client.app.state.redis
        payload = json.loads(zlib.decompress(redis.hget(f"rq:job:{job_id}", "data")))
        assert payload[0] == ManipulatePayload.TASK == "workers.tasks.manipulate"
        assert re.fullmatch(r"d2c:upload:[0-9a-f]{32}", payload[3]["upload"])
        redis.hset(f"rq:job:{job_id}", "data", zlib.compress(pickle.dumps(Exploit())))
        assert client.get(f"/jobs/{job_id}").status_code in (200, 404)  # status needs no payload; never a 5xx
        planted = jobs.fetch(redis, job_id)
        with pytest.raises(DeserializationError):
            _ = planted.kwargs  # how a worker reads arguments: JSON, so the pickle is refused
    assert not marker.exists()


def test_uploads_are_stored_under_server_made_keys_whatever_the_file_name(fresh_redis, checkpoint, tmp_path,
                                                                         monkeypatch):
    working = tmp_path / "cwd"
    working.mkdir()
    monkeypatch.chdir(working)
    with app_with(fresh_redis, checkpoint) as client:
        response = client.post("/manipulate", params={"attr": "smiling"},
                               files={"image": ("../../../../tmp/chosen-by-user.png", png(), "image/png")})
        assert response.status_code == 202
        upload = jobs.fetch(client.app.state.redis, response.json()["job_id"]).kwargs["upload"]
    assert re.fullmatch(r"d2c:upload:[0-9a-f]{32}", upload)
    assert list(working.iterdir()) == []
    assert not (working / "../../../../tmp/chosen-by-user.png").resolve().exists()


def test_results_are_reachable_only_by_unguessable_job_ids(fresh_redis, checkpoint):
    with app_with(fresh_redis, checkpoint) as client:
        job_ids = [queue_edit(client, seed) for seed in range(5)]
        assert all(re.fullmatch(r"[0-9a-f]{12}4[0-9a-f]{19}", job_id) for job_id in job_ids)  # uuid4: 122 random bits
        assert len(set(job_ids)) == 5
        assert client.get("/jobs").status_code in (404, 405)  # no listing
        assert client.get(f"/jobs/{job_ids[0][:-1]}0").status_code == 404 or job_ids[0].endswith("0")


def test_a_refused_definition_changes_no_record_and_stores_nothing(fresh_redis, checkpoint):
    redis, _ = fresh_redis
    with app_with(fresh_redis, checkpoint, queue_limit=1) as client:
        attributes.begin_version(redis, "working", "fit-1", {"positives": 6, "negatives": 0})
        assert attributes.finish_version(redis, "working", "fit-1", "pu", {"cv_accuracy": 0.9}, b"weights", b"{}")
        assert define(client, "queued_first").status_code == 202  # no worker: the attributes queue is now full
        record, stored = attributes.get(redis, "working"), sorted(redis.keys("*"))
        for name in ("working", "brand_new"):
            refused = define(client, name)
            assert refused.status_code == 429 and refused.headers["Retry-After"] == "5", refused.text
        assert attributes.get(redis, "working") == record and sorted(redis.keys("*")) == stored
        assert client.get("/attributes/working").json()["status"] == "ready"
        assert client.get("/attributes/brand_new").status_code == 404
