"""Row 8: training throughput (images/s) of the long run's configuration as `make train` runs it, against the
configuration the shipped checkpoint was trained with, and the quality each reaches after the same images.

Each setting runs the real `python -m model.training` (under torchrun for DDP ranks) twice, for W and W + N steps
on the first images of --data; the difference of the loop times it records (train_state.pt's elapsed_seconds,
which leaves out start-up and the final checkpoint) is the time of N steps after W warm-up steps. Every setting
has the machine's cores to itself: the threads of all its ranks together are the machine's core count, as in
`make train`, except the shipped baseline, which trained on one rank of one thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from bench.deployment import ROOT
from bench.table import Row, Target, not_measured
from model.checkpoint import read_card
from model.precision import native_precision
from model.training.longrun import RUN_CONFIG
from pipelines.evaluate import evaluate

RUN_SECONDS = 3600


@dataclass(frozen=True)
class Setting:
    name: str
    config: str  # "shipped" (the checkpoint card's training config) or "run" (the long run's config file)
    precision: str
    ranks: int
    threads: int  # per rank
    channels_last: bool

    def describe(self, batch: int) -> str:
        layout = ", channels_last" if self.channels_last else ""
        return f"{self.name}: {self.precision}, {self.ranks} rank(s) x {self.threads} thread(s){layout}, batch {batch}"


def settings(cores: int, precision: str) -> dict[str, Setting]:
    """The settings timed; "run" is the long run as `make train` runs it, in the precision it picks here."""
    timed = {
        "shipped": Setting("shipped config as trained", "shipped", "bf16", 1, 1, False),
        "run_bf16": Setting("long run in bf16", "run", "bf16", cores, 1, True),
        "run_fp32": Setting("long run in fp32", "run", "fp32", cores, 1, True),
        "run_threads": Setting("long run on threads of one process", "run", precision, 1, cores, True),
    }
    return {**timed, "run": replace(timed[f"run_{precision}"], name=f"long run as make train runs it ({precision})")}


def bf16_support() -> str:
    """The CPU's bf16 instructions: autocast only pays where the matrix units take bf16 natively."""
    flags = set(
        next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "").split()
    )
    return "CPU bf16 instructions: " + (", ".join(sorted(flags & {"avx512_bf16", "amx_bf16"})) or "none")


def train(bench, config: Path, setting: Setting, steps: int, out: Path, limit: int | None) -> float:
    """Run `steps` steps of the real trainer into `out`; the seconds its loop took, as the run recorded them."""
    launcher = [sys.executable]
    if setting.ranks > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={setting.ranks}"]
    command = [
        *launcher,
        "-m",
        "model.training",
        "--data",
        str(bench.options.data),
        "--out",
        str(out),
        "--config",
        str(config),
        "--threads",
        str(setting.threads),
        "--precision",
        setting.precision,
        "--device",
        bench.device,
        "--quiet",
        "--set",
        f"max_steps={steps}",
    ]
    command += ["--channels-last"] * setting.channels_last + (["--limit", str(limit)] if limit else [])
    env = {**os.environ, "OMP_NUM_THREADS": str(setting.threads)}
    subprocess.run(command, cwd=ROOT, env=env, check=True, timeout=RUN_SECONDS, stdout=subprocess.DEVNULL)
    return torch.load(out / "train_state.pt", weights_only=True)["elapsed_seconds"]


def images_per_second(bench, config: Path, setting: Setting, batch: int, warmup: int, steps: int) -> float:
    with (
        tempfile.TemporaryDirectory(prefix="d2c-bench-train-") as first,
        tempfile.TemporaryDirectory(prefix="d2c-bench-train-") as second,
    ):
        measured = train(bench, config, setting, warmup + steps, Path(first), 2 * batch)
        return steps * batch / (measured - train(bench, config, setting, warmup, Path(second), 2 * batch))


def quality_after(bench, config: Path, setting: Setting, images: int, batch: int) -> dict:
    """Reconstruction and 100-shot probe on 1,000 test faces after training from scratch on `images` images."""
    with tempfile.TemporaryDirectory(prefix="d2c-bench-quality-") as out:
        train(bench, config, setting, max(1, images // batch), Path(out), None)
        return evaluate(out, bench.options.data, split="test", limit=1000)


def measure(bench) -> list[Row]:
    names = {
        "8a": "training throughput, long run / shipped config",
        "8b": "long run: bf16 autocast / fp32",
        "8c": "long run: DDP ranks / threads of one process",
        "8d": "quality after the same images, long run - shipped config",
    }
    shipped = read_card(bench.workload.checkpoint).get("training", {}).get("config")
    data = Path(bench.options.data)
    if shipped is None or not data.is_dir():
        card = f"{bench.workload.checkpoint}/card.json"
        reason = f"not run: needs the training config in {card} and images at {data}, absent here"
        return [not_measured(key, name, None, reason) for key, name in names.items()]
    cores = os.cpu_count() or 1
    warmup, steps = bench.size(3, 1), bench.size(20, 2)
    run = json.loads(RUN_CONFIG.read_text())
    rate, batches = {}, {}
    with tempfile.TemporaryDirectory(prefix="d2c-bench-config-") as scratch:
        configs = {}
        for key, values in (("shipped", shipped), ("run", run)):
            configs[key] = Path(scratch) / f"{key}.json"  # no checkpoint inside the timed steps
            configs[key].write_text(json.dumps({**values, "checkpoint_minutes": 1e6, "max_steps": 0}))
            batches[key] = values["batch_size"]
        timed = settings(cores, native_precision(torch.device(bench.device)))
        for key, setting in timed.items():
            if key != "run":  # the same setting as run_bf16 or run_fp32
                rate[key] = images_per_second(
                    bench, configs[setting.config], setting, batches[setting.config], warmup, steps
                )
        rate["run"] = rate[f"run_{timed['run'].precision}"]
        images = bench.size(6400, 128)
        quality = {
            key: quality_after(bench, configs[key], timed[key], images, batches[key])
            for key in ("shipped", "run")
        }
    describe = {
        key: f"{setting.describe(batches[setting.config])}: {rate[key]:.1f} images/s"
        for key, setting in timed.items()
    }
    images_used = 2 * max(batches.values())
    note = f"{steps} steps after {warmup} warm-up, first {images_used} images of {data}; {cores} cores; "
    note += bf16_support()
    scores = {key: f"{q['recon_psnr_db']:.2f} dB, probe {q['probe_mean']:.3f}" for key, q in quality.items()}
    return [
        Row(
            "8a",
            names["8a"],
            f"{describe['run']}; {describe['shipped']}",
            rate["run"] / rate["shipped"],
            target=Target(">=", 3),
            note=note,
        ),
        Row("8b", names["8b"], f"{describe['run_bf16']}; {describe['run_fp32']}", rate["run_bf16"] / rate["run_fp32"],
            note=note),
        Row("8c", names["8c"], f"{describe['run']}; {describe['run_threads']}", rate["run"] / rate["run_threads"],
            note=note),
        Row(
            "8d",
            names["8d"],
            f"long run {scores['run']}; shipped config {scores['shipped']}",
            quality["run"]["recon_psnr_db"] - quality["shipped"]["recon_psnr_db"],
            unit=" dB",
            note=f"each trained from scratch on {images} images; test split, first 1,000 faces; "
            "probe 50 + 50 shots, mean of 5 draws",
        ),
    ]
