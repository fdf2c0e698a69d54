"""Joint D2C training from the command line: arguments, processes (single or torchrun DDP) and data.

python -m model.training --data ../shared/data/celeba64 --out runs/celeba64 --max-minutes 120
torchrun --nproc-per-node 2 -m model.training --data ... --out ...      # DDP, any number of nodes
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import torch
from torch import distributed as dist

from model.config import TrainConfig, load_train_config, to_dict, train_config_from_dict
from model.data import load_dataset
from model.precision import PRECISIONS, resolve_precision
from model.training.train import RunOptions, train


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m model.training", description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="dataset folder (celeba64, CelebA or plain image layout)")
    parser.add_argument("--out", required=True, help="output checkpoint directory")
    parser.add_argument("--config", help="JSON file of TrainConfig fields (nested 'model' for ModelConfig)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="override a TrainConfig field")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/train_state.pt")
    parser.add_argument(
        "--warm-start",
        metavar="CHECKPOINT",
        help="with no state to resume, start from this checkpoint's weights (when its architecture matches)",
    )
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (under torchrun: the local rank's GPU)")
    parser.add_argument("--max-minutes", type=float, default=0.0, help="stop once the run has trained this long in all")
    parser.add_argument(
        "--for-minutes", type=float, default=0.0, help="stop after training this long in this invocation"
    )
    parser.add_argument("--split", default="train", help="split of a labelled dataset to train on")
    parser.add_argument("--limit", type=int, help="use only the first N images")
    parser.add_argument("--threads", type=int, help="torch CPU threads per process")
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="autocast dtype; auto: bf16 where the device computes it natively, else fp32 (model.precision)",
    )
    parser.add_argument("--channels-last", action="store_true", help="NHWC activations (faster convolutions on CPU)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> TrainConfig:
    config = load_train_config(args.config)
    values = to_dict(config)
    for override in args.set:
        key, _, raw = override.partition("=")
        target = values
        *parents, leaf = key.split(".")
        for parent in parents:
            target = target[parent]
        if leaf not in target:
            raise SystemExit(f"--set: unknown config key {key!r}")
        target[leaf] = json.loads(raw)
    return train_config_from_dict(values)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    config = build_config(args)
    # 1. processes: one per device under torchrun (gloo on CPU, nccl on CUDA), else a single process
    world_size, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    device = torch.device(args.device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if world_size > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if args.threads:
        torch.set_num_threads(args.threads)
    if config.batch_size % world_size:
        raise SystemExit(f"batch_size {config.batch_size} is not divisible by {world_size} processes")
    # 2. data, decoded once into memory
    dataset = load_dataset(args.data, split=args.split, resolution=config.model.resolution, limit=args.limit)
    if len(dataset) < config.batch_size:
        raise SystemExit(f"{len(dataset)} images is fewer than one batch of {config.batch_size}")
    # 3. the loop
    options = RunOptions(
        out=Path(args.out),
        data=Path(args.data),
        split=args.split,
        device=device,
        rank=rank,
        world_size=world_size,
        resume=args.resume,
        warm_start=Path(args.warm_start) if args.warm_start else None,
        precision=resolve_precision(args.precision, device),
        channels_last=args.channels_last,
        max_minutes=args.max_minutes,
        for_minutes=args.for_minutes,
        quiet=args.quiet,
    )
    try:
        train(config, dataset, options)
    finally:
        if world_size > 1:
            dist.destroy_process_group()
