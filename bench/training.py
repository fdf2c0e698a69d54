"""Row 8: training throughput (images/s) of the shipped config: fp32 vs bf16 autocast, 1 vs 2 DDP ranks (gloo).

Each setting runs the real `python -m model.training` (under torchrun for 2 ranks) twice, for W and W + N steps on
the first images of --data; the difference of the loop times it records (train_state.pt's elapsed_seconds, which
leaves out start-up and the final checkpoint) is the time of N steps after W warm-up steps.
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from bench.deployment import ROOT
from bench.table import Row, not_measured
from model.checkpoint import read_card

SETTINGS = (("fp32", 1), ("bf16", 1), ("bf16", 2))  # (precision, DDP ranks)
RUN_SECONDS = 3600


def bf16_support() -> str:
    """The CPU's bf16 instructions: autocast only pays where the matrix units take bf16 natively."""
    flags = set(next((line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags")), "").split())
    return "CPU bf16 instructions: " + (", ".join(sorted(flags & {"avx512_bf16", "amx_bf16"})) or "none")


def loop_seconds(bench, config: Path, precision: str, ranks: int, steps: int, limit: int) -> float:
    """Seconds the training loop took for `steps` steps, as the run recorded them."""
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}"] if ranks > 1 else [sys.executable]
    with tempfile.TemporaryDirectory(prefix="d2c-bench-train-") as out:
        command = [*launcher, "-m", "model.training", "--data", str(bench.options.data), "--out", out, "--config", str(config),
                   "--limit", str(limit), "--threads", str(bench.threads), "--precision", precision, "--device", bench.device,
                   "--quiet", "--set", f"max_steps={steps}"]
        subprocess.run(command, cwd=ROOT, check=True, timeout=RUN_SECONDS, stdout=subprocess.DEVNULL)
        return torch.load(Path(out) / "train_state.pt", weights_only=True)["elapsed_seconds"]


def measure(bench) -> list[Row]:
    names = {"8a": "training throughput, bf16 autocast / fp32 (1 rank)", "8b": "training throughput, 2 DDP ranks / 1 rank (bf16)"}
    shipped = read_card(bench.workload.checkpoint).get("training", {}).get("config")
    data = Path(bench.options.data)
    if shipped is None or not data.is_dir():
        reason = f"not run: needs the training config in {bench.workload.checkpoint}/card.json and images at {data}, absent here"
        return [not_measured(key, name, None, reason) for key, name in names.items()]
    warmup, steps, batch = bench.size(3, 1), bench.size(30, 2), shipped["batch_size"]
    rate = {}
    with tempfile.TemporaryDirectory(prefix="d2c-bench-config-") as scratch:
        config = Path(scratch) / "train.json"
        config.write_text(json.dumps({**shipped, "checkpoint_minutes": 1e6, "max_steps": 0}))  # no checkpoint inside the timed steps
        for precision, ranks in SETTINGS:
            measured = loop_seconds(bench, config, precision, ranks, warmup + steps, 2 * batch)
            rate[precision, ranks] = steps * batch / (measured - loop_seconds(bench, config, precision, ranks, warmup, 2 * batch))
    figures = {setting: f"{setting[0]} x {setting[1]} rank(s): {rate[setting]:.2f} images/s" for setting in SETTINGS}
    note = (f"shipped config (batch {batch}, contrastive weight {shipped['contrastive_weight']}), {steps} steps after {warmup} warm-up, "
            f"{bench.threads} thread(s) per rank, first {2 * batch} images of {data}; {bf16_support()}")
    return [Row("8a", names["8a"], f"{figures['bf16', 1]}; {figures['fp32', 1]}", rate["bf16", 1] / rate["fp32", 1], note=note),
            Row("8b", names["8b"], f"{figures['bf16', 2]}; {figures['bf16', 1]}", rate["bf16", 2] / rate["bf16", 1], note=note)]
