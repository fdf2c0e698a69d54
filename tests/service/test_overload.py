"""Overload: waiting requests (?wait=) hold no thread, so the rest of the API answers at once while they wait, and
beyond MAX_WAITERS they get 503; bodies are limited while they stream in, whatever their framing, and per part."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from contract import jobs, keys
from service.main import create_app
from tests.deployment import embedded_redis, make_settings, publish_builtins
from tests.images import png
from tests.serving import post_streamed, served

WAITERS = 45  # more than the 40 threads of the thread pool the sync routes share
BOUNDARY = "d2cboundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture()
def no_worker(tmp_path, checkpoint):
    """A fresh Redis with the built-ins listed and no worker: queued jobs wait for ever, like a stopped worker's."""
    server, url = embedded_redis(tmp_path)
    publish_builtins(make_settings(url, checkpoint), server)
    yield server, url
    server.shutdown()


def test_waiting_requests_hold_no_thread_and_beyond_the_cap_get_503(no_worker, checkpoint):
    redis, url = no_worker
    app = create_app(make_settings(url, checkpoint, max_waiters=WAITERS, max_wait=60))
    with served(app) as base, ThreadPoolExecutor(WAITERS) as pool:
        def wait_for_an_edit(seed: int) -> int:
            return httpx.post(f"{base}/manipulate", params={"attr": "smiling", "seed": seed, "wait": 20},
                              files={"image": ("p.png", png(seed=seed), "image/png")}, timeout=60).status_code

        waiting = [pool.submit(wait_for_an_edit, seed) for seed in range(WAITERS)]
        deadline = time.monotonic() + 30
        while jobs.waiting(redis, keys.MANIPULATE_QUEUE) < WAITERS and time.monotonic() < deadline:
            time.sleep(0.1)
        assert jobs.waiting(redis, keys.MANIPULATE_QUEUE) == WAITERS  # every one queued, and now waiting
        for path in ("/healthz", "/readyz", "/attributes", "/jobs/unknown"):
            started = time.monotonic()
            response = httpx.get(f"{base}{path}", timeout=10)  # before the fix: a timeout, all threads held
            assert response.status_code in (200, 404, 503) and time.monotonic() - started < 5, path
        refused = httpx.post(f"{base}/manipulate", params={"attr": "smiling", "wait": 20},
                             files={"image": ("p.png", png(), "image/png")}, timeout=10)
        assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
        assert "already waiting" in refused.json()["detail"]
        assert jobs.waiting(redis, keys.MANIPULATE_QUEUE) == WAITERS  # the refused request queued nothing
        assert [future.result() for future in waiting] == [202] * WAITERS


def multipart_stream(field: str, filename: str, total: int, chunk: int = 65536):
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n").encode()
    for _ in range(total // chunk):
        yield bytes(chunk)
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def test_a_chunked_body_is_cut_off_at_the_request_limit(no_worker, checkpoint):
    app = create_app(make_settings(no_worker[1], checkpoint, max_request_bytes=1024 * 1024,
                                   max_upload_bytes=64 * 1024 * 1024))
    status, answer, taken = post_streamed(app, "/manipulate", "attr=smiling", MULTIPART,
                                          multipart_stream("image", "big.png", 64 * 1024 * 1024))
    assert status == 413 and "request body is larger than the limit of 1048576 bytes" in answer["detail"]
    assert taken <= 1024 * 1024 + 65536 * 2  # read no further than the limit, never the 64 MiB


@pytest.mark.parametrize("path, field, limit_setting", [
    ("/manipulate", "image", "max_upload_bytes"),
    ("/attributes", "positive", "max_upload_bytes"),
    ("/attributes", "examples", "max_zip_bytes"),
])
def test_each_multipart_part_is_cut_off_at_its_limit(no_worker, checkpoint, path, field, limit_setting):
    settings = make_settings(no_worker[1], checkpoint)
    limit = getattr(settings, limit_setting)
    status, answer, taken = post_streamed(create_app(settings), path, "attr=smiling", MULTIPART,
                                          multipart_stream(field, "part.bin", 64 * 1024 * 1024))
    assert status == 413 and f"part {field!r} is larger than the limit of {limit} bytes" in answer["detail"]
    assert taken <= limit + 65536 * 2  # the request limit (256 MiB) alone would have read all 64 MiB
