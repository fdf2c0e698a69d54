"""Stage two: train the latent diffusion prior on the frozen encoder's posterior samples until it stops improving.

During joint training the prior chases latents that keep moving; on the fixed latents of the shipped EMA encoder
(the training images and their mirror images) it can match the aggregate posterior it will actually sample.
Only the denoiser changes: refined in place, or replaced by a wider one trained from scratch (--width).

    python -m model.training.prior --checkpoint runs/celeba64 --data ../shared/data/celeba64 --minutes 30 --width 128
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import time

import torch

from model.checkpoint import load_model, save_model, update_card
from model.data import load_dataset
from model.diffusion import diffusion_loss
from model.networks import Denoiser
from model.precision import PRECISIONS, autocast, resolve_precision


@torch.no_grad()
def posterior_statistics(model, images_uint8: torch.Tensor, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    means, stds = [], []
    for start in range(0, len(images_uint8), batch_size):
        mean, log_var = model.encoder(images_uint8[start : start + batch_size].float().to(model.device) / 255)
        means.append(mean)
        stds.append((0.5 * log_var).exp())
    return torch.cat(means), torch.cat(stds)


@torch.no_grad()
def held_out_loss(
    denoiser, latents: torch.Tensor, schedule: torch.Tensor, seed: int = 0, batch_size: int = 512
) -> float:
    """Eq. 2 on fixed latents with fixed noise levels and noise, so successive values differ only by the weights."""
    generator = torch.Generator(device=latents.device).manual_seed(seed)
    losses = [
        diffusion_loss(denoiser, latents[start : start + batch_size], schedule, generator=generator)
        for start in range(0, len(latents), batch_size)
    ]
    return float(torch.cat(losses).mean())


def train_prior(
    checkpoint: str,
    data: str,
    minutes: float,
    device: str = "cpu",
    batch_size: int = 256,
    learning_rate: float = 3e-4,
    ema_decay: float = 0.999,
    width: int | None = None,
    held_out: int = 1000,
    check_every: int = 200,  # steps between held-out checks
    max_steps: int | None = None,
    patience: int = 3,
    min_improvement: float = 1e-3,  # relative; the held-out loss is deterministic, so this is not noise
    seed: int = 0,
    precision: str = "auto",  # "auto": bf16 only where the device computes it natively (model.precision)
) -> dict:
    """Train until `patience` held-out checks in a row improve the best loss by less than `min_improvement`
    (relative), or for `minutes` at most."""
    torch.manual_seed(seed)
    precision = resolve_precision(precision, torch.device(device))
    # 1. the frozen encoder's posterior over the training images and their mirrors, computed once
    model = load_model(checkpoint, device)
    dataset = load_dataset(data, split="train", resolution=model.config.resolution)
    means, stds = (
        torch.cat(pair)
        for pair in zip(
            posterior_statistics(model, dataset.images), posterior_statistics(model, dataset.images.flip(-1))
        )
    )
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    held = order[:held_out]  # images (and so their mirrors) kept out of training, to tell when to stop
    train_index = torch.cat([order[held_out:], order[held_out:] + len(dataset)]).to(means.device)
    noise = torch.randn(means[held].shape, generator=torch.Generator().manual_seed(seed + 1)).to(means.device)
    held_latents = means[held] + stds[held] * noise
    # 2. the denoiser: the jointly trained one, or a wider one from scratch
    if width is not None and width != model.config.denoiser_channels:
        model.config = dataclasses.replace(model.config, denoiser_channels=width)
        model.denoiser = Denoiser(model.config).to(device)
    denoiser = model.denoiser.train().requires_grad_(True)
    ema = copy.deepcopy(denoiser).requires_grad_(False)
    optimizer = torch.optim.AdamW(denoiser.parameters(), lr=learning_rate, foreach=True)
    # 3. Eq. 2 on posterior samples z = mean + std * eps, with a held-out check every `check_every` steps
    started = time.perf_counter()
    step, best, stale, history = 0, held_out_loss(ema, held_latents, model.schedule), 0, []
    while time.perf_counter() - started < minutes * 60 and stale < patience and step != max_steps:
        index = train_index[torch.randint(0, len(train_index), (batch_size,), device=means.device)]
        latent = means[index] + stds[index] * torch.randn_like(means[index])
        with autocast(torch.device(device), precision):
            loss = diffusion_loss(denoiser, latent, model.schedule).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            for p_ema, p in zip(ema.parameters(), denoiser.parameters(), strict=True):
                p_ema.lerp_(p, 1 - min(ema_decay, (1 + step) / (10 + step)))
        step += 1
        if step % check_every == 0:
            current = held_out_loss(ema, held_latents, model.schedule)
            history.append(round(current, 2))
            stale = 0 if current < (1 - min_improvement) * best else stale + 1
            best = min(best, current)
    # 4. ship the EMA denoiser beside the unchanged encoder and decoder
    model.denoiser = ema.eval()
    save_model(checkpoint, model)
    summary = {
        "steps": step,
        "minutes": round((time.perf_counter() - started) / 60, 1),
        "batch_size": batch_size,
        "precision": precision,
        "denoiser_channels": model.config.denoiser_channels,
        "latents": len(train_index),
        "mirrors": True,
        "held_out_loss": history,
        "stopped": "plateau" if stale >= patience else "steps" if step == max_steps else "time",
    }
    update_card(checkpoint, prior_refinement=summary)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m model.training.prior", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True, help="checkpoint directory to refine in place")
    parser.add_argument("--data", required=True)
    parser.add_argument("--minutes", type=float, default=10.0, help="at most this long; stops earlier on a plateau")
    parser.add_argument(
        "--width", type=int, help="train a new denoiser of this width instead of refining the joint one"
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int)
    parser.add_argument(
        "--precision", choices=PRECISIONS, default="auto", help="auto: bf16 only where the device computes it natively"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    summary = train_prior(
        args.checkpoint, args.data, args.minutes, args.device, width=args.width, precision=args.precision
    )
    print(summary)


if __name__ == "__main__":
    main()
