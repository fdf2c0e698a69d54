"""The MoCo head as a teacher for few-shot classifiers: fit on [z, head features], distilled into a linear r(c|z).

The contrastive term trains a projection head on top of the latent (model/contrastive.py); its hidden layer is a
nonlinear map of z that learned what survives the face augmentations. A 100-shot logistic regression on the latent
together with those 512 features scores higher than one on the latent alone, while random features of the same
size score lower (the long run at 141 epochs, the 5 probe attributes, first 4,000 test faces, 3 example draws:
0.769 -> 0.796, random 0.749). Manipulation, edit regions and strength tuning all need r(c|z) linear in z, so the
teacher's logits on the unlabeled pool are regressed onto the pool latents (ridge; `Teacher.distill`): on the
148-epoch checkpoint and its shipped 3,000-latent pool (first 4,000 test faces, 3 draws) the student scores 0.798
against the teacher's 0.797 and costs one matrix-vector product per fit (a logistic regression on the teacher's
probabilities, 1-2 s per fit, scored 0.793 against 0.797 on the first 2 draws).
Through `fit_pu` from 100 positives the teacher lifts the probe from 0.745 to 0.772 on the same faces and draws.
Every consumer of AttributeClassifier stays as it is.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.nn import functional as F

from model.checkpoint import load_head

HIDDEN_WEIGHT = 2.0  # the head features' mean norm over the pool, in units of the latent's (1: 0.794, 4: 0.792)
# the student's logits are scaled to this spread (std over the pool), the plain latent classifiers' (1.2-2.1, median
# 1.4, on the 41- and 148-epoch checkpoints), in which edit margins, LOCAL_MARGIN and the strength grid were tuned;
# the teacher's own spread (2-10) made blond's edits local and stop short (success 0.84 -> 0.36 on 500 test faces)
LOGIT_SPREAD = 1.4
DISTILL_RIDGE = 1e-3  # ridge of the logit regression per pool latent (2 draws: 0.797; 1e-2: 0.796, 1e-1: 0.793)


class Teacher:
    """phi(z) = [z, s * SiLU(W z + b)], the latent beside the projection head's hidden layer (scaled so that the
    hidden part's mean norm over the pool is HIDDEN_WEIGHT times the latent's), bound to the unlabeled pool its
    classifiers are distilled on; what distilling needs of the pool is computed once, here."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, pool: torch.Tensor):
        self.weight, self.bias, self.pool = weight.float().cpu(), bias.float().cpu(), pool
        flat = pool.flatten(1).float().cpu()
        hidden = F.silu(flat @ self.weight.t() + self.bias)
        self.scale = HIDDEN_WEIGHT * float(flat.norm(dim=1).mean() / hidden.norm(dim=1).mean())
        self.pool_features = torch.cat([flat, self.scale * hidden], dim=1)
        # ridge regression onto the pool's teacher logits: (C^T C + ridge N I)^-1 C^T on the centred pool C
        self.pool_mean = flat.mean(dim=0)
        centred = flat - self.pool_mean
        gram = centred.t() @ centred + DISTILL_RIDGE * len(flat) * torch.eye(flat.shape[1])
        self.projection = torch.linalg.solve(gram, centred.t())

    def __call__(self, latents: torch.Tensor) -> torch.Tensor:
        """(N, D + H) features of latents (N, ...) whose flattened size is D; the pool's are computed once."""
        if latents is self.pool:
            return self.pool_features
        flat = latents.flatten(1).float().cpu()
        return torch.cat([flat, self.scale * F.silu(flat @ self.weight.t() + self.bias)], dim=1)

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
    """The checkpoint's teacher, bound to its unlabeled pool; None for a checkpoint without a head."""
    head = load_head(checkpoint)
    if head is None:
        return None
    return Teacher(head["mlp.0.weight"], head["mlp.0.bias"], pool)
