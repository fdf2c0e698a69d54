"""Row 6: define an attribute from 100 images end to end: POST /attributes with 50 + 50 photos through the real API
and worker, until GET /attributes/{name} says ready."""

from __future__ import annotations

import statistics
import time

import httpx

from bench.table import Row, Target

TARGET = Target("<=", 2, " s")
EXAMPLES = 50  # per class
READY_SECONDS = 600
POLL_SECONDS = 0.02


def define_seconds(
    client: httpx.Client, name: str, positive: list[bytes], negative: list[bytes], mirror: bool = False
) -> float:
    files = [("positive", (f"p{i}.png", data, "image/png")) for i, data in enumerate(positive)]
    files += [("negative", (f"n{i}.png", data, "image/png")) for i, data in enumerate(negative)]
    started = time.perf_counter()
    response = client.post("/attributes", data={"name": name, "mirror": str(mirror).lower()}, files=files)
    if response.status_code != 202:
        raise RuntimeError(f"POST /attributes answered {response.status_code}: {response.text[:200]}")
    while time.perf_counter() - started < READY_SECONDS:
        record = client.get(f"/attributes/{name}").json()
        if record["status"] == "ready":
            return time.perf_counter() - started
        if record["status"] == "failed":
            raise RuntimeError(f"defining {name} failed: {record['error']}")
        time.sleep(POLL_SECONDS)
    raise RuntimeError(f"{name} was not ready after {READY_SECONDS} s")


def measure(bench) -> list[Row]:
    positive, negative = bench.workload.labelled_photos(bench.size(EXAMPLES, 5))
    rounds = bench.size(3, 1)
    with httpx.Client(base_url=bench.service_url, timeout=120) as client:
        define_seconds(client, "bench_warm_up", positive, negative)  # the worker's first fit pays one-time costs
        seconds = statistics.median(
            define_seconds(client, f"bench_{index}", positive, negative) for index in range(rounds)
        )
        mirrored = statistics.median(
            define_seconds(client, f"bench_mirror_{index}", positive, negative, mirror=True) for index in range(rounds)
        )
    figures = f"{len(positive)} + {len(negative)} photos, POST to ready: {{:.2f}} s (median of {rounds})"
    note = (f"{bench.workload.source} labelled by {bench.workload.attribute}; crop=face (the default); "
            f"polled every {POLL_SECONDS * 1e3:.0f} ms")
    return [
        Row(
            "6",
            "define an attribute from 100 images, end to end (seconds)",
            figures.format(seconds),
            seconds,
            unit=" s",
            target=TARGET,
            note=note,
        ),
        Row(
            "6b",
            "the same with mirror=true (also trains on the mirror images)",
            figures.format(mirrored),
            mirrored,
            unit=" s",
            note=note,
        ),
    ]
