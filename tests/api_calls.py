"""Requests the tests send again and again: queue an edit, define an attribute, poll until done."""
from __future__ import annotations

import time

from tests.images import png


def poll(client, job_id: str, seconds: float = 120.0) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        body = client.get(f"/jobs/{job_id}").json()
        if body["status"] in ("finished", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def post_photo(client, data: bytes, params, filename: str = "photo.png"):
    return client.post("/manipulate", params=params, files={"image": (filename, data, "application/octet-stream")})


def queue_edit(client, seed: int = 0) -> str:
    response = client.post("/manipulate", params={"attr": "smiling", "crop": "none", "seed": 0},
                           files={"image": ("p.png", png(seed=seed), "image/png")})
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def files(field: str, count: int, seed: int = 0) -> list:
    return [(field, (f"{field}{index}.png", png(seed=seed + index), "image/png")) for index in range(count)]


def define(client, name: str, positives: int = 6, negatives: int = 6, seed: int = 0, **extra):
    data = {"name": name, "crop": "center", **extra}
    return client.post("/attributes", data=data,
                       files=files("positive", positives, seed) + files("negative", negatives, seed + 50))


def wait_ready(client, name: str, seconds: float = 120.0) -> dict:
    deadline = time.monotonic() + seconds
    while True:
        record = client.get(f"/attributes/{name}").json()
        if record["status"] != "training" or time.monotonic() > deadline:
            return record
        time.sleep(0.1)
