"""Stage two: refine the latent diffusion prior on the frozen encoder's posterior samples.

During joint training the prior chases latents that keep moving; a few minutes on fixed latents (the shipped
EMA encoder's) lets it match the aggregate posterior it will actually sample. Only the denoiser changes.

    python -m model.training.prior --checkpoint runs/celeba64 --data ../shared/data/celeba64 --minutes 10
"""
from __future__ import annotations

import argparse
import copy
import time

import torch

from model.checkpoint import load_model, save_model, update_card
from model.data import load_dataset
from model.diffusion import diffusion_loss


@torch.no_grad()
def posterior_statistics(model, images_uint8: torch.Tensor, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    means, stds = [], []
    for start in range(0, len(images_uint8), batch_size):
        mean, log_var = model.encoder(images_uint8[start : start + batch_size].float().to(model.device) / 255)
        means.append(mean)
        stds.append((0.5 * log_var).exp())
    return torch.cat(means), torch.cat(stds)


def refine_prior(checkpoint: str, data: str, minutes: float, device: str = "cpu", batch_size: int = 256,
                 learning_rate: float = 3e-4, ema_decay: float = 0.999, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    # 1. the frozen encoder's posterior over the training images, computed once
    model = load_model(checkpoint, device)
    dataset = load_dataset(data, split="train", resolution=model.config.resolution)
    means, stds = posterior_statistics(model, dataset.images)
    # 2. Eq. 2 on posterior samples z = mean + std * eps, for the denoiser alone
    denoiser = model.denoiser.train().requires_grad_(True)
    ema = copy.deepcopy(denoiser).requires_grad_(False)
    optimizer = torch.optim.AdamW(denoiser.parameters(), lr=learning_rate)
    started, step, running = time.perf_counter(), 0, None
    while time.perf_counter() - started < minutes * 60:
        index = torch.randint(0, len(means), (batch_size,), device=means.device)
        latent = means[index] + stds[index] * torch.randn_like(means[index])
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
            loss = diffusion_loss(denoiser, latent, model.schedule).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        for p_ema, p in zip(ema.parameters(), denoiser.parameters()):
            p_ema.lerp_(p.detach(), 1 - min(ema_decay, (1 + step) / (10 + step)))
        step += 1
        running = float(loss.detach()) if running is None else 0.99 * running + 0.01 * float(loss.detach())
    # 3. ship the EMA denoiser beside the unchanged encoder and decoder
    model.denoiser = ema.eval()
    save_model(checkpoint, model)
    summary = {"steps": step, "minutes": round((time.perf_counter() - started) / 60, 1), "batch_size": batch_size,
               "final_diffusion_loss": round(running, 2), "latents": len(means)}
    update_card(checkpoint, prior_refinement=summary)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m model.training.prior", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True, help="checkpoint directory to refine in place")
    parser.add_argument("--data", required=True)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(refine_prior(args.checkpoint, args.data, args.minutes, args.device))


if __name__ == "__main__":
    main()
