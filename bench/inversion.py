"""Row 1: the encoder's one pass vs In-Domain-GAN-style optimisation inversion (Adam on z through the decoder),
run until every image is reconstructed at least as well as the encoder reconstructs it."""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from bench.table import Row, Target
from bench.timing import median_seconds, synchronize

TARGET = Target(">=", 600)


@dataclass
class Inversion:
    latents: torch.Tensor
    iterations: torch.Tensor  # per image: Adam steps until its MSE first reached its target (-1: never, within the cap)
    steps: int  # Adam steps taken in all


def invert(
    model, images: torch.Tensor, max_iterations: int, target_mse: torch.Tensor | None = None, learning_rate: float = 0.1
) -> Inversion:
    """Adam on z, from the prior's mean, minimising the pixel MSE of decoder(z); stops early once every image's MSE
    is at most `target_mse` (per image), else after `max_iterations` steps."""
    images = images.to(model.device)
    latents = torch.zeros(len(images), *model.config.latent_shape, device=model.device, requires_grad=True)
    optimizer = torch.optim.Adam([latents], lr=learning_rate)
    reached = torch.full((len(images),), -1)
    step = 0
    with torch.enable_grad():
        for step in range(max_iterations + 1):
            errors = (model.decoder(latents) - images).pow(2).flatten(1).mean(dim=1)
            if target_mse is not None:
                reached = torch.where((reached < 0) & (errors.detach().cpu() <= target_mse), step, reached)
                if bool((reached >= 0).all()):
                    break
            if step == max_iterations:
                break
            optimizer.zero_grad()
            errors.sum().backward()  # a sum keeps each image's optimisation independent of the batch size
            optimizer.step()
    return Inversion(latents.detach(), reached, step)


def reconstruction_mse(model, images: torch.Tensor, latents: torch.Tensor) -> torch.Tensor:
    return (model.decode(latents) - images.to(model.device)).pow(2).flatten(1).mean(dim=1).cpu()


def measure(bench) -> list[Row]:
    model, workload = bench.workload.model, bench.workload
    images = workload.images(bench.size(8, 2))
    cap = bench.size(5000, 20)
    encode_seconds, latents = median_seconds(
        lambda: model.encode(images), repeats=bench.size(9, 2), device=bench.device
    )
    encoder_mse = reconstruction_mse(model, images, latents)
    invert(model, images, max_iterations=2)  # pays autograd's one-time costs outside the timing
    synchronize(bench.device)
    started = time.perf_counter()
    inversion = invert(model, images, cap, target_mse=encoder_mse)
    synchronize(bench.device)
    invert_seconds = time.perf_counter() - started
    matched = int((inversion.iterations >= 0).sum())
    needed = inversion.iterations[inversion.iterations >= 0].float()
    figures = (
        f"encode {len(images)} images: {encode_seconds * 1e3:.1f} ms; inversion: {invert_seconds:.2f} s, "
        f"{inversion.steps} Adam steps until every image matched (per image median {needed.median():.0f}, "
        f"max {needed.max():.0f})"
        if matched == len(images)
        else f"encode {len(images)} images: {encode_seconds * 1e3:.1f} ms; inversion: {invert_seconds:.2f} s for the "
        f"cap of {cap} Adam steps, {matched}/{len(images)} images matched"
    )
    note = (
        f"{workload.source}; Adam lr 0.1 from z = 0, stop when each image's MSE <= its encoder MSE "
        f"(mean {encoder_mse.mean():.4f})"
        + ("" if matched == len(images) else "; cap hit, so the ratio is a lower bound")
    )
    return [
        Row(
            "1",
            "encoder vs optimisation inversion (time ratio)",
            figures,
            invert_seconds / encode_seconds,
            target=TARGET,
            note=note,
        )
    ]
