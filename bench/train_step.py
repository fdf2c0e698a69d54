"""Where one training step's time goes: each part of the product config's step timed on its own.

    .venv/bin/python -m bench.train_step --threads 2 --precision fp32

Parts run in the order the trainer runs them (augmentation, momentum-encoder keys, encoder, decoder, denoiser,
contrastive head, backward, optimizer, EMA and MoCo updates); each figure is the median over --repeats steps
after --warmup steps. The whole step is timed apart, so the parts' sum shows what timing them one by one adds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from model.checkpoint import read_card
from model.config import train_config_from_dict
from model.contrastive import face_augment
from model.diffusion import diffusion_loss
from model.training.step import build_trainer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.train_step", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", default="checkpoints/celeba64", help="its card's training config is profiled")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="override a config field")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--precision", choices=["bf16", "fp32"], default="fp32")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    return parser.parse_args(argv)


def profile(config, precision: str, channels_last: bool, warmup: int, repeats: int) -> dict[str, float]:
    """Median milliseconds per part of one step on random images of the config's size."""
    trainer = build_trainer(config, torch.device("cpu"), channels_last=channels_last)
    model, moco, loss = trainer.model, trainer.moco, trainer.loss
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
    size = config.model.resolution
    images = torch.rand(config.batch_size, 3, size, size)
    times: dict[str, list[float]] = {}

    def timed(name: str, fn, *args):
        started = time.perf_counter()
        result = fn(*args)
        times.setdefault(name, []).append((time.perf_counter() - started) * 1e3)
        return result

    for _ in range(warmup + repeats):
        with autocast:
            augmented = timed("augmentation", face_augment, images)
            keys = timed("key encoder (no grad)", moco.keys, augmented) if moco else None
            mean, log_var = timed("encoder", model.encoder, images)
            latent = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
            reconstruction = timed("decoder", model.decoder, latent)
            diffusion = timed("denoiser", diffusion_loss, model.denoiser, latent, model.schedule)
            head = timed("projection head", trainer.head, mean)
            contrastive = timed("InfoNCE", moco.loss, head, keys) if moco else torch.zeros(())
            total = (
                (reconstruction.float() - images).pow(2).sum() / (2 * loss.pixel_sigma**2)
                + diffusion.sum()
                - log_var.float().sum() / 2
                + loss.contrastive_weight * contrastive.sum()
            ) / len(images)
        trainer.optimizer.zero_grad(set_to_none=True)
        timed("backward", total.backward)
        timed("optimizer", trainer.optimizer.step)
        timed("EMA + MoCo momentum/queue", trainer.after_step, keys)
        timed("whole step", trainer.step, images)
    return {name: statistics.median(values[warmup:]) for name, values in times.items()}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    shipped = read_card(Path(args.checkpoint)).get("training", {}).get("config")
    values = dict(shipped or {})
    for override in args.set:
        key, _, raw = override.partition("=")
        values[key] = json.loads(raw)
    config = train_config_from_dict(values)
    figures = profile(config, args.precision, args.channels_last, args.warmup, args.repeats)
    whole = figures.pop("whole step")
    print(
        f"| part ({args.precision}, {args.threads} thread(s), batch {config.batch_size}"
        f"{', channels_last' if args.channels_last else ''}) | ms | share |"
    )
    print("| --- | --- | --- |")
    for name, ms in figures.items():
        print(f"| {name} | {ms:.1f} | {ms / sum(figures.values()):.0%} |")
    print(f"| sum of parts | {sum(figures.values()):.1f} | |")
    print(f"| whole step | {whole:.1f} | {config.batch_size / whole * 1e3:.1f} images/s |")


if __name__ == "__main__":
    main()
