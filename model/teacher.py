"""Teachers for few-shot classifiers: the MoCo head and the diffusion prior read z nonlinearly; a classifier fitted on
[z, their features] is distilled into a linear r(c|z).

Two networks of the checkpoint learned what in a latent is the face: the contrastive projection head
(model/contrastive.py), from the augmentations it must ignore, and the latent diffusion prior, whose U-Net bottleneck
at a middle noise level summarises what a face with this latent is like. A 100-shot logistic regression on the latent
together with those features scores higher than one on the latent alone, while random features of the same size score
lower (the 5 probe attributes, first 4,000 test faces, 3 example draws: the long run at 141 epochs, z -> z + head
0.769 -> 0.796, random 0.749; the shipped 148-epoch checkpoint, z + head 0.798 -> z + head + prior 0.838, and on the
whole test split over 5 draws 0.801 -> 0.839, higher on every draw and attribute).
Manipulation, edit regions and strength tuning all need r(c|z) linear in z, so the teacher's logits on the unlabeled
pool are regressed onto the pool latents (ridge; `Teacher.distill`): on the 148-epoch checkpoint and its shipped
3,000-latent pool (same faces and draws) the head-only student scores 0.798 against its teacher's 0.797 and costs one
matrix-vector product per fit (a logistic regression on the teacher's probabilities, 1-2 s per fit, scored 0.793
against 0.797 on the first 2 draws). Through `fit_pu` from 100 positives the head lifted the probe from 0.745 to 0.772
(3 draws), and head and prior, at stronger L2 (model/attributes.py), from 0.776 to 0.830 (one draw). Every consumer of
AttributeClassifier stays as it is.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.nn import functional as F

from model.checkpoint import load_head, load_model
from model.networks import Denoiser

HIDDEN_WEIGHT = 2.0  # the head features' mean norm over the pool, in units of the latent's (1: 0.794, 4: 0.792)
# the student's logits are scaled to this spread (std over the pool), the plain latent classifiers' (1.2-2.1, median
# 1.4, on the 41- and 148-epoch checkpoints), in which edit margins, LOCAL_MARGIN and the strength grid were tuned;
# the teacher's own spread (2-10) made blond's edits local and stop short (success 0.84 -> 0.36 on 500 test faces)
LOGIT_SPREAD = 1.4
# the prior's bottleneck is read on the noise-free point at this signal share (probe, 3 draws, first 4,000 test faces,
# weight 4: alpha 0.27 0.832, 0.49 0.835, 0.72 0.838, 0.85 0.838; weight 1: 0.006 0.801, 0.94 0.824): noisy enough that
# the prior summarises the face, clean enough that it still sees this one
PRIOR_ALPHA = 0.7
# the prior features' mean norm over the pool, in units of the latent's (alpha 0.49: 1 0.825, 2 0.834, 4 0.835, 8 0.834)
PRIOR_WEIGHT = 3.0
PRIOR_BATCH = 500  # latents per bottleneck pass
DISTILL_RIDGE = 1e-3  # ridge of the logit regression per pool latent (2 draws: 0.797; 1e-2: 0.796, 1e-1: 0.793)


class Teacher:
    """phi(z) = [z, s * SiLU(W z + b), t * (B(z) - mean B)]: the latent beside the projection head's hidden layer and,
    given the prior's `denoiser`, its bottleneck B(z) at PRIOR_ALPHA (each part scaled so that its mean norm over the
    pool is HIDDEN_WEIGHT or PRIOR_WEIGHT times the latent's), bound to the unlabeled pool its classifiers are distilled
    on; what distilling needs of the pool is computed once, here."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, pool: torch.Tensor, denoiser: Denoiser | None = None):
        self.weight, self.bias, self.pool = weight.float().cpu(), bias.float().cpu(), pool
        self.denoiser = denoiser
        self.latent_shape = tuple(pool.shape[1:])
        flat = pool.flatten(1).float().cpu()
        latent_norm = float(flat.norm(dim=1).mean())
        hidden = F.silu(flat @ self.weight.t() + self.bias)
        self.scale = HIDDEN_WEIGHT * latent_norm / float(hidden.norm(dim=1).mean())
        parts = [flat, self.scale * hidden]
        if self.denoiser is not None:
            prior = self._bottleneck(flat)
            self.prior_mean = prior.mean(dim=0)
            prior = prior - self.prior_mean
            self.prior_scale = PRIOR_WEIGHT * latent_norm / float(prior.norm(dim=1).mean())
            parts.append(self.prior_scale * prior)
        self.pool_features = torch.cat(parts, dim=1)
        # ridge regression onto the pool's teacher logits: (C^T C + ridge N I)^-1 C^T on the centred pool C
        self.pool_mean = flat.mean(dim=0)
        centred = flat - self.pool_mean
        gram = centred.t() @ centred + DISTILL_RIDGE * len(flat) * torch.eye(flat.shape[1])
        self.projection = torch.linalg.solve(gram, centred.t())

    @torch.no_grad()
    def _bottleneck(self, flat: torch.Tensor) -> torch.Tensor:
        """(N, F) flattened bottleneck of the prior's U-Net on sqrt(alpha) z, the noise-free point at PRIOR_ALPHA."""
        device = next(self.denoiser.parameters()).device
        alpha = torch.tensor(PRIOR_ALPHA, device=device)
        latents = flat.reshape(-1, *self.latent_shape).to(device)
        return torch.cat(
            [
                self.denoiser.bottleneck(alpha.sqrt() * chunk, alpha.expand(len(chunk))).flatten(1).float().cpu()
                for chunk in latents.split(PRIOR_BATCH)
            ]
        )

    def __call__(self, latents: torch.Tensor) -> torch.Tensor:
        """(N, D + H [+ F]) features of latents (N, ...) whose flattened size is D; the pool's are computed once."""
        if latents is self.pool:
            return self.pool_features
        flat = latents.flatten(1).float().cpu()
        parts = [flat, self.scale * F.silu(flat @ self.weight.t() + self.bias)]
        if self.denoiser is not None:
            parts.append(self.prior_scale * (self._bottleneck(flat) - self.prior_mean))
        return torch.cat(parts, dim=1)

    def distill(self, weight: torch.Tensor, bias: float) -> tuple[torch.Tensor, float, float]:
        """A classifier linear in z, from one linear in the teacher's features: the least-squares fit of the
        teacher's logits on the pool (logit matching, Ba and Caruana 2014), scaled to LOGIT_SPREAD over the pool
        (the boundary is the fit's). Returns (weight, bias, share of the pool on whose side both agree)."""
        logits = self.pool_features @ weight.float().cpu() + bias
        student = self.projection @ (logits - logits.mean())
        student_bias = float(logits.mean() - self.pool_mean @ student)
        student_logits = self.pool_features[:, : len(self.pool_mean)] @ student + student_bias
        agreement = float(((student_logits > 0) == (logits > 0)).float().mean())
        scale = LOGIT_SPREAD / float(student_logits.std().clamp(min=1e-6))
        return student * scale, student_bias * scale, agreement


def load_teacher(checkpoint: str | Path, pool: torch.Tensor) -> Teacher | None:
    """The checkpoint's teacher (its head and its prior's denoiser), bound to its unlabeled pool; None for a
    checkpoint without a head."""
    head = load_head(checkpoint)
    if head is None:
        return None
    return Teacher(head["mlp.0.weight"], head["mlp.0.bias"], pool, load_model(checkpoint).denoiser)
