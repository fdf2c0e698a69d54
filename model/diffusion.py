"""Latent diffusion as pure functions, in the paper's alpha notation (alpha = 1 clean, alpha -> 0 pure noise).

Every sampler shares one signature, ``sampler(denoiser, latent, alphas, ...) -> latent``, where ``alphas`` is
the increasing sequence of noise levels to visit and ``denoiser(noisy_latent, alpha)`` predicts the noise.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import torch

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Projection = Callable[[torch.Tensor], torch.Tensor] | None


def alpha_schedule(steps: int, offset: float = 0.008) -> torch.Tensor:
    """Cosine schedule {alpha_i}_{i=1..T}, non-decreasing towards 1 (Nichol & Dhariwal 2021; paper Sec. 2)."""
    t = torch.arange(steps, 0, -1, dtype=torch.float64) / steps
    alphas = (
        torch.cos((t + offset) / (1 + offset) * math.pi / 2) ** 2 / math.cos(offset / (1 + offset) * math.pi / 2) ** 2
    )
    return alphas.clamp(1e-4, 0.9999).float()


def noise_to(latent: torch.Tensor, alpha: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """z^(alpha) = sqrt(alpha) z + sqrt(1 - alpha) eps (paper Eq. 2, right-hand side)."""
    alpha = alpha.reshape(-1, *([1] * (latent.dim() - 1))).to(latent.dtype)
    return alpha.sqrt() * latent + (1 - alpha).sqrt() * noise


def diffusion_loss(
    denoiser: Denoiser, latent: torch.Tensor, schedule: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Per-example l_diff of paper Eq. 2 with w(alpha) = 1, one Monte Carlo draw of i ~ U{1..T} per example.

    Returns the squared noise error summed over latent dimensions, shape (N,).
    """
    index = torch.randint(0, len(schedule), (latent.shape[0],), device=latent.device, generator=generator)
    alpha = schedule.to(latent.device)[index]
    noise = torch.randn(latent.shape, device=latent.device, generator=generator, dtype=latent.dtype)
    predicted = denoiser(noise_to(latent, alpha, noise), alpha)
    return (predicted.float() - noise.float()).pow(2).flatten(1).sum(dim=1)


def ddim_alphas(schedule: torch.Tensor, steps: int, start_alpha: float | None = None) -> torch.Tensor:
    """The increasing noise levels DDIM visits: `steps` levels from start_alpha (default: the noisiest) up to 1."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    schedule = schedule.float()
    if start_alpha is not None:
        schedule = schedule[schedule >= start_alpha]
        if len(schedule) == 0:
            return torch.ones(1)
    index = torch.linspace(0, len(schedule) - 1, steps).round().long().unique()
    return torch.cat([schedule[index], torch.ones(1)])


def ddim_step(
    denoiser: Denoiser,
    latent: torch.Tensor,
    alpha_from: float,
    alpha_to: float,
    project: Projection = None,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One DDIM update (Song et al. 2021, Eq. 12) from level alpha_from to alpha_to.

    `eta` scales the fresh noise of Eq. 16: sigma = eta sqrt((1 - alpha_to) / (1 - alpha_from))
    sqrt(1 - alpha_from / alpha_to); 0 is deterministic DDIM, 1 is the ancestral DDPM step.
    `project` maps the clean estimate onto the set clean latents live in (like pixel clipping in image
    diffusion): at low alpha the estimate divides the noise error by sqrt(alpha) and would otherwise blow up.
    """
    batch = latent.shape[0]
    alpha = torch.full((batch,), alpha_from, device=latent.device)
    noise = denoiser(latent, alpha).to(latent.dtype)
    clean = (latent - math.sqrt(1 - alpha_from) * noise) / math.sqrt(alpha_from)
    if project is not None:
        clean = project(clean)
        noise = (latent - math.sqrt(alpha_from) * clean) / math.sqrt(1 - alpha_from)
    sigma = eta * math.sqrt((1 - alpha_to) / (1 - alpha_from) * max(0.0, 1 - alpha_from / alpha_to))
    stepped = math.sqrt(alpha_to) * clean + math.sqrt(max(0.0, 1 - alpha_to - sigma**2)) * noise
    if sigma == 0:
        return stepped
    fresh = torch.randn(latent.shape, generator=generator, device=latent.device, dtype=latent.dtype)
    return stepped + sigma * fresh


@torch.no_grad()
def ddim_sample(
    denoiser: Denoiser,
    latent: torch.Tensor,
    alphas: torch.Tensor,
    project: Projection = None,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """DDIM along the increasing levels `alphas`, ending at alpha = 1 (paper Eq. 3, the diffusion part).

    `latent` is z^(alphas[0]); for sampling from the prior it is N(0, I) noise and alphas[0] is near 0. `eta` is
    Song et al.'s Eq. 16 scale of fresh noise per step (0: deterministic; 1: ancestral), drawn from `generator`.
    """
    levels = [float(a) for a in alphas]
    for alpha_from, alpha_to in itertools.pairwise(levels):
        latent = ddim_step(denoiser, latent, alpha_from, alpha_to, project, eta, generator)
    return latent


@torch.no_grad()
def diffuse_and_denoise(
    denoiser: Denoiser, latent: torch.Tensor, alphas: torch.Tensor, noise: torch.Tensor, project: Projection = None
) -> torch.Tensor:
    """The diffusion correction: noise z to level alphas[0], then DDIM back to alpha = 1 (p^(alpha, 1) of Sec. 2).

    With alphas = [1] this is the identity.
    """
    start = alphas[:1].to(latent.device).expand(latent.shape[0])
    return ddim_sample(denoiser, noise_to(latent, start, noise), alphas, project)
