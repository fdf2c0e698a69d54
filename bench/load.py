"""Load test: N manipulate requests at concurrency C against a `make run`-style deployment with 2 workers.

    .venv/bin/python -m bench.load --tiny                  # builds a tiny random checkpoint: quick, any machine
    .venv/bin/python -m bench.load --checkpoint checkpoints/celeba64
    .venv/bin/python -m bench.load --url http://host:8000 --attr smiling   # an existing deployment

Starts an embedded Redis, `python -m workers --count 2` and the API (unless --url), sends the requests (a 429 is
retried after its Retry-After, as a client should), follows every job to its end and prints throughput, latency
percentiles and the accounting: accepted = finished + failed-with-reason, lost = 0, 5xx = 0.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from bench.deployment import deployment
from bench.timing import percentile

JOB_DEADLINE_SECONDS = 900


def build_tiny_checkpoint(directory: Path) -> Path:
    import torch

    from model.attributes import fit_binary, save_unlabeled_pool
    from model.checkpoint import save_model
    from model.config import ModelConfig
    from model.d2c import D2C

    config = ModelConfig(
        resolution=32,
        channels=(8, 16),
        latent_channels=4,
        denoiser_channels=8,
        denoiser_blocks=1,
        diffusion_steps=100,
        groups=4,
    )
    torch.manual_seed(0)
    save_model(directory, D2C(config))
    pool = torch.randn(64, *config.latent_shape, generator=torch.Generator().manual_seed(0))
    save_unlabeled_pool(directory, pool)
    fit_binary("smiling", pool[:16] + 0.5, pool[16:32] - 0.5).save(directory / "attributes")
    return directory


def photo(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


class Tally:
    def __init__(self):
        self.accepted = self.finished = self.failed_with_reason = self.failed_silently = self.lost = 0
        self.refused_429 = self.server_errors = self.other_4xx = 0
        self.latencies: list[float] = []


async def one_edit(client: httpx.AsyncClient, index: int, attr: str, tally: Tally, gate: asyncio.Semaphore) -> None:
    async with gate:
        began = time.monotonic()
        while True:
            response = await client.post(
                "/manipulate",
                params={"attr": attr, "crop": "none", "seed": 0},
                files={"image": (f"{index}.png", photo(index), "image/png")},
            )
            if response.status_code != 429:
                break
            tally.refused_429 += 1
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
        if response.status_code >= 500:
            tally.server_errors += 1
            return
        if response.status_code != 202:
            tally.other_4xx += 1
            return
        tally.accepted += 1
        job_id = response.json()["job_id"]
        while time.monotonic() - began < JOB_DEADLINE_SECONDS:
            await asyncio.sleep(0.2)
            status = await client.get(f"/jobs/{job_id}")
            if status.status_code >= 500:
                tally.server_errors += 1
                continue
            body = status.json() if status.status_code == 200 else {}
            if body.get("status") == "finished":
                tally.finished += 1
                tally.latencies.append(time.monotonic() - began)
                return
            if body.get("status") == "failed":
                if body.get("error"):
                    tally.failed_with_reason += 1
                else:
                    tally.failed_silently += 1
                return
        tally.lost += 1


async def run_load(url: str, requests: int, concurrency: int, attr: str) -> tuple[Tally, float]:
    tally, gate = Tally(), asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        began = time.monotonic()
        await asyncio.gather(*(one_edit(client, index, attr, tally, gate) for index in range(requests)))
    return tally, time.monotonic() - began


def report(tally: Tally, seconds: float, args: argparse.Namespace, target: str) -> str:
    rows = [
        ("target", target),
        ("requests / concurrency", f"{args.requests} / {args.concurrency}"),
        ("wall time", f"{seconds:.1f} s"),
        ("throughput (finished edits)", f"{tally.finished / seconds:.2f} /s"),
        (
            "latency p50 / p95 / p99 (POST to finished)",
            " / ".join(f"{percentile(tally.latencies, q):.2f}" for q in (0.5, 0.95, 0.99)) + " s",
        ),
        ("accepted (202)", tally.accepted),
        ("finished", tally.finished),
        ("failed with a reason", tally.failed_with_reason),
        ("failed without a reason", tally.failed_silently),
        ("lost (no end within 15 min)", tally.lost),
        ("429 answers (retried after Retry-After)", tally.refused_429),
        ("other 4xx", tally.other_4xx),
        ("5xx", tally.server_errors),
        ("accepted = finished + failed-with-reason", tally.accepted == tally.finished + tally.failed_with_reason),
    ]
    return "\n".join(["| measure | value |", "| --- | --- |", *(f"| {name} | {value} |" for name, value in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="an existing deployment (otherwise one is started here)")
    parser.add_argument("--checkpoint", default="checkpoints/celeba64")
    parser.add_argument("--tiny", action="store_true", help="build and serve a tiny random-weight checkpoint")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--attr", default="smiling")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker process")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where the workers run the model")
    args = parser.parse_args(argv)
    if args.url:
        started, target = nullcontext(args.url), args.url
    else:
        checkpoint = (
            build_tiny_checkpoint(Path(tempfile.mkdtemp(prefix="d2c-tiny-"))) if args.tiny else Path(args.checkpoint)
        )
        started = deployment(checkpoint, args.workers, args.threads, args.device)
        target = f"{'tiny random checkpoint' if args.tiny else checkpoint}, {args.workers} workers, embedded Redis"
    with started as url:
        tally, seconds = asyncio.run(run_load(url, args.requests, args.concurrency, args.attr))
    print(report(tally, seconds, args, target), flush=True)
    healthy = tally.lost == 0 and tally.server_errors == 0 and tally.failed_silently == 0
    return 0 if healthy and tally.accepted == tally.finished + tally.failed_with_reason else 1


if __name__ == "__main__":
    sys.exit(main())
