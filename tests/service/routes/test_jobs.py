"""GET /jobs/{id} and its results: shape, the faces an edit found, unknown ids, results of unfinished or image-less
jobs."""
from __future__ import annotations

from contract import jobs, keys
from tests.api_calls import define, poll
from tests.images import png
from tests.service.finished_jobs import TWO_FACES, edit_with_faces, finished_job


def test_job_status_has_the_documented_fields(client):
    job_id = client.post("/manipulate", params={"attr": "smiling", "crop": "none"},
                         files={"image": ("p.png", png(), "image/png")}).json()["job_id"]
    status = poll(client, job_id)
    assert set(status) == {"job_id", "kind", "status", "error", "result_urls", "created_at", "ended_at", "faces"}
    assert status["kind"] == "manipulate" and status["status"] == "finished" and status["error"] is None
    assert status["result_urls"] == [f"/jobs/{job_id}/result/0"]
    assert status["created_at"] <= status["ended_at"]
    assert client.get(f"/jobs/{job_id}/result/0").content == client.get(f"/jobs/{job_id}/result").content


def test_an_edit_lists_the_faces_its_worker_returned(client, redis):
    job_id = edit_with_faces(redis, TWO_FACES, 160, 60)
    status = client.get(f"/jobs/{job_id}").json()
    assert status["kind"] == "manipulate" and status["status"] == "finished"
    assert status["faces"] == TWO_FACES
    assert client.get(status["result_urls"][0]).status_code == 200


def test_faces_are_null_for_older_edits_unfinished_jobs_and_other_kinds(client, redis):
    assert client.get(f"/jobs/{edit_with_faces(redis, None, 40, 40)}").json()["faces"] is None
    queued = jobs.queue(redis, "unserved").enqueue("time.sleep", args=[0], meta={"kind": "manipulate"})
    assert client.get(f"/jobs/{queued.id}").json()["faces"] is None
    queued.delete()
    other = finished_job(redis, {"results": [], "faces": TWO_FACES}, kind="generate")
    assert client.get(f"/jobs/{other}").json()["faces"] is None


def test_unknown_job_is_404(client):
    assert client.get("/jobs/doesnotexist").status_code == 404
    assert client.get("/jobs/doesnotexist/result").status_code == 404
    assert client.get("/jobs/bad$id").status_code == 422


def test_attribute_job_has_no_image_result(client):
    job_id = define(client, "no_image").json()["job_id"]
    status = poll(client, job_id)
    assert status["kind"] == "attribute" and status["status"] == "finished" and status["result_urls"] == []
    response = client.get(f"/jobs/{job_id}/result")
    assert response.status_code == 404 and "no image results" in response.json()["detail"]


def test_failed_job_is_visible_with_its_error(client):
    job_id = client.post("/manipulate", params={"attr": "smiling", "crop": "face"},
                         files={"image": ("p.png", png(64, 64, seed=1), "image/png")}).json()["job_id"]
    status = poll(client, job_id)
    assert status["status"] == "failed" and "no face" in status["error"]
    result = client.get(f"/jobs/{job_id}/result")
    assert result.status_code == 409 and "no face" in result.json()["detail"]


def test_results_expire_and_uploads_are_removed_once_done(client, redis, settings):
    job_id = client.post("/manipulate", params={"attr": "smiling", "crop": "none"},
                         files={"image": ("p.png", png(), "image/png")}).json()["job_id"]
    assert poll(client, job_id)["status"] == "finished"
    job = jobs.fetch(redis, job_id)
    assert 0 < redis.ttl(jobs.result_keys(job)[0]) <= settings.result_ttl
    assert redis.exists(job.kwargs["upload"]) == 0


def test_a_job_past_its_timeout_is_stopped_and_shown_failed(client, redis, settings):
    generate_queue = jobs.queue(redis, keys.GENERATE_QUEUE)
    slow = generate_queue.enqueue("time.sleep", args=[30], job_timeout=1, meta={"kind": "generate"})
    status = poll(client, slow.id, seconds=60)
    assert status["status"] == "failed"
    assert "timeout" in status["error"].lower()
