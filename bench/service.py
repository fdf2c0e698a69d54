"""Rows 4 and 5: the deployed service over real HTTP vs the bare model computing the same edits in-process.

4: throughput at concurrency 16 vs the model's in-process throughput at the worker's batch size.
5: POST /manipulate?wait= latency at concurrency 1 (upload to PNG received) vs one bare edit, both as p50.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from functools import partial

import httpx

from bench.table import Row, Target
from bench.timing import median_seconds, percentile, timed
from contract.settings import Settings

CONCURRENCY = 16
THROUGHPUT_TARGET = Target(">=", 0.8)
LATENCY_TARGET = Target("<=", 1.3)
WAIT_SECONDS = Settings.model_fields["max_wait"].default  # the longest ?wait= the API allows


def edit_parameters(bench) -> dict:
    return {"attr": bench.workload.attribute, "crop": "none", "seed": 0, "wait": WAIT_SECONDS}


def check_png(response: httpx.Response) -> None:
    if response.status_code != 200 or response.headers.get("content-type") != "image/png":
        raise RuntimeError(f"POST /manipulate?wait= answered {response.status_code}: {response.text[:200]}")


async def edits_per_second(bench, url: str, requests: int) -> float:
    """`requests` edits from CONCURRENCY clients that each wait for their PNG before sending the next."""
    photos = bench.workload.photos(requests)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(client: httpx.AsyncClient, photo: bytes) -> None:
        async with gate:
            check_png(
                await client.post(
                    "/manipulate", params=edit_parameters(bench), files={"image": ("face.png", photo, "image/png")}
                )
            )

    async with httpx.AsyncClient(
        base_url=url, timeout=WAIT_SECONDS + 30, limits=httpx.Limits(max_connections=CONCURRENCY)
    ) as client:
        started = time.perf_counter()
        await asyncio.gather(*(one(client, photo) for photo in photos))
        return requests / (time.perf_counter() - started)


def measure_throughput(bench) -> list[Row]:
    batch_size = Settings.model_fields["batch_size"].default
    raw_seconds, _ = median_seconds(
        lambda: bench.workload.edit(bench.workload.images(batch_size)), repeats=bench.size(9, 1), device=bench.device
    )
    raw = batch_size / raw_seconds
    url = bench.service_url
    requests, rounds = bench.size(96, 16), bench.size(3, 1)
    asyncio.run(
        edits_per_second(bench, url, CONCURRENCY)
    )  # warm-up: first requests pay one-time costs in every process
    service = statistics.median(asyncio.run(edits_per_second(bench, url, requests)) for _ in range(rounds))
    figures = (f"service {service:.2f} edits/s ({requests} requests, median of {rounds}); "
               f"model in-process {raw:.2f} edits/s at batch {batch_size}")
    note = (
        f"{bench.workload.source}, crop=none, {bench.workload.mode} mode; "
        f"one worker (BATCH_SIZE {batch_size}, {bench.threads} thread(s)), "
        "API and client on the same CPUs; ?wait= so clients do not poll"
    )
    return [
        Row(
            "4",
            f"service throughput at concurrency {CONCURRENCY} / in-process model throughput",
            figures,
            service / raw,
            target=THROUGHPUT_TARGET,
            note=note,
        )
    ]


def measure_latency(bench) -> list[Row]:
    count = bench.size(21, 3)
    images = [bench.workload.images(1, offset=index) for index in range(count)]
    bare = [timed(partial(bench.workload.edit, image), bench.device)[0] for image in [images[0], *images]][
        1:
    ]  # first: warm-up
    photos = bench.workload.photos(count)
    with httpx.Client(base_url=bench.service_url, timeout=WAIT_SECONDS + 30) as client:

        def edit(photo: bytes) -> None:
            check_png(
                client.post(
                    "/manipulate", params=edit_parameters(bench), files={"image": ("face.png", photo, "image/png")}
                )
            )

        latencies = [timed(partial(edit, photo))[0] for photo in [photos[0], *photos]][1:]
    service, compute = percentile(latencies, 0.5), percentile(bare, 0.5)
    figures = (f"POST /manipulate?wait={WAIT_SECONDS:g} p50 {service * 1e3:.0f} ms; "
               f"bare edit p50 {compute * 1e3:.0f} ms ({count} requests each)")
    note = (f"{bench.workload.source}, crop=none; "
            f"bare = encode + decode + {bench.workload.mode} edit + decode in-process, batch 1")
    return [
        Row(
            "5",
            "end-to-end edit latency / bare compute latency, concurrency 1 (p50)",
            figures,
            service / compute,
            target=LATENCY_TARGET,
            note=note,
        )
    ]
