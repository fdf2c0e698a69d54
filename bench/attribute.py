"""Row 6: define an attribute from 100 images end to end: POST /attributes with 50 + 50 photos through the real API
and worker, until GET /attributes/{name} says ready; 6b with mirror=true, 6c from 100 positives only (PU)."""

from __future__ import annotations

import statistics

from bench.table import Row, Target
from pipelines.service_attributes import define

TARGET = Target("<=", 2, " s")
EXAMPLES = 50  # per class
POLL_SECONDS = 0.02


def define_seconds(url: str, name: str, positive: list[bytes], negative: list[bytes], mirror: bool = False) -> float:
    return define(url, name, positive, negative, mirror=mirror, poll_seconds=POLL_SECONDS)["define_to_ready_seconds"]


def measure(bench) -> list[Row]:
    positive, negative = bench.workload.labelled_photos(bench.size(EXAMPLES, 5))
    rounds = bench.size(3, 1)
    url = bench.service_url
    define_seconds(url, "bench_warm_up", positive, negative)  # the worker's first fit pays one-time costs
    seconds = statistics.median(define_seconds(url, f"bench_{index}", positive, negative) for index in range(rounds))
    mirrored = statistics.median(
        define_seconds(url, f"bench_mirror_{index}", positive, negative, mirror=True) for index in range(rounds)
    )
    only_positive, _ = bench.workload.labelled_photos(bench.size(2 * EXAMPLES, 10))
    positives_only = statistics.median(
        define_seconds(url, f"bench_positives_{index}", only_positive, []) for index in range(rounds)
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
        Row(
            "6c",
            "define from positives only (PU, against the checkpoint's unlabeled pool)",
            f"{len(only_positive)} positive photos, POST to ready: {positives_only:.2f} s (median of {rounds})",
            positives_only,
            unit=" s",
            note=note,
        ),
    ]
