"""Few-shot attribute classifiers r(c|z) on D2C latents (paper Sec. 5, Algorithm 1 line 3).

Both kinds are linear in the flattened latent, so one fits 100 examples in milliseconds and its gradient,
used by manipulation, is a fixed direction scaled by how unsure the classifier is. Fitted with the model's latent
covariance Sigma (from the unlabeled pool), a classifier also carries an edit direction: Sigma w, or for binary
classifiers given the pool itself, the difference of the pool's class means under the classifier; and, given the
pool, its region: the latent cells where that direction is strong, which local edits keep to (edit_region).

- binary: L2-regularised logistic regression from positives and negatives, strength picked by 5-fold CV.
- pu: positive-unlabeled learning. Elkan and Noto (2008): a classifier g(z) = p(labeled | z) and k = E[g | positive]
  say how likely each unlabeled latent is to be positive; r(c|z) is a logistic regression with those weights.
"""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from safetensors.torch import load, save
from torch.nn import functional as F

from model.checkpoint import ATTRIBUTES_DIR, POOL_FILE, SKIN_READOUT_FILE
from model.teacher import Teacher

NAME_PATTERN = re.compile(r"[a-z0-9_]{1,40}")  # always fullmatch: "$" would accept a trailing newline
L2_GRID = (1e-3, 1e-2, 1e-1, 1.0)  # weight-decay strengths tried by cross-validation (per example, on unit-RMS latents)
# PU r(c|z): CV on g's soft labels picks 1e-3 and learns g back (blond added 0.60 vs 0.785 at 1.0, 200 test faces)
PU_L2 = 1.0
LABELING_L2 = 1e-2  # PU: L2 of g = p(labeled | z); on blond it puts the pool's blond share at 0.16 (train rate 0.167)
# PU on a teacher's features (z, head and prior: 3,584 numbers, 3.7 times the latent's norm), where g and r at the
# strengths above overfit 100 positives (100 positives per probe attribute, first 4,000 test faces: 0.830 against
# 0.729 at those, and 0.776 for the head alone at those; g 1e-1 and r 1: 0.787, 1 and 1: 0.818, 1 and 30: 0.833;
# the head alone at 1 and 10: 0.751)
TAUGHT_LABELING_L2 = 1.0
TAUGHT_PU_L2 = 10.0
# Newton in the span of the rows while N^2 <= NEWTON_ROWS * D: its steps cost ~N^3, L-BFGS's ~N D (one thread, real
# latents: as fast as L-BFGS from N ~ 470 at D = 1024 and beyond N = 600 at D = 1536 with the teacher)
NEWTON_ROWS = 200
NEWTON_TOLERANCE = 1e-8  # Newton stops at this share of the gradient norm at zero (1e-6 left the bias off by 4e-4)
NEWTON_STEPS = 100  # at most; from zero it takes 5-12 at the strengths in L2_GRID
COVARIANCE_SHRINKAGE = 0.1  # weight of the isotropic part in the pool's latent covariance (Ledoit-Wolf style shrinkage)
# the two cheeks in the training framing, as fractions of the frame: skin in nearly every face, under no hair,
# glasses or mouth; their colour is what edits should keep
CHEEK_ROWS = (0.5625, 0.71875)
CHEEK_COLUMNS = ((0.25, 0.40625), (0.59375, 0.75))
READOUT_RIDGE = 10.0  # ridge on the latent -> skin colour regression (latents have unit RMS per value)
# a latent cell is in an attribute's edit region when its share of the edit direction, in units of the pool's spread,
# is at least this many times the mean cell's (eyeglasses added: 0.23 -> 0.90 success on 200 test faces; see README)
REGION_THRESHOLD = 1.5
# a local edit's decoded change is kept to its region's pixels, grown and feathered by these shares of the frame
# (4 and 3 px at 64; see region_footprint)
FOOTPRINT_GROW = 1 / 16
FOOTPRINT_FEATHER = 3 / 64


class AttributeDefinitionError(ValueError):
    """A bad attribute definition (too few examples, wrong latent size, NaN), with a message saying why."""


@dataclass
class AttributeClassifier:
    name: str
    kind: str  # "binary" or "pu"
    weight: torch.Tensor  # (D,) over the flattened latent
    bias: float
    latent_shape: tuple[int, ...]
    metadata: dict = field(default_factory=dict)
    direction: torch.Tensor | None = None  # (D,) edit direction (see edit_direction); None means w
    region: torch.Tensor | None = None  # (D,) 1 on the latent cells a local edit moves (see edit_region); None: all

    @property
    def edit_direction(self) -> torch.Tensor:
        """The direction manipulation moves a latent along: for binary attributes fitted with the unlabeled pool,
        the pool's class-mean difference (pool_class_difference); else Sigma w when fitted with a covariance; else w.

        w is the best *separating* direction, but with 100 examples much of it cancels nuisance variation the
        decoder barely shows; Sigma w is the direction the attribute's score actually varies along in the data
        (the "activation pattern" of a linear model, Haufe et al. 2014), so edits along it are visible. The class
        means weigh the pool by the posterior instead of the score, which rare attributes need.
        """
        return self.weight if self.direction is None else self.direction

    def direction_for(self, local: bool) -> torch.Tensor:
        """The edit direction, restricted to the attribute's region when `local` and the attribute has one."""
        if not local or self.region is None:
            return self.edit_direction
        return self.edit_direction * self.region

    def edit_logit(self, latents: torch.Tensor, local: bool) -> torch.Tensor:
        """The logit a local edit can move: f(z) with the latent values outside the region at the pool's mean.

        A local edit changes only the region, so the positives' full logits (which also carry what lies outside it)
        overstate how far an edit must go; strength tuning compares these instead. The plain logit when not local.
        """
        if not local or self.region is None:
            return self.logit(latents)
        check_latents(latents, self.latent_shape)
        inside = self.weight * self.region
        return latents.flatten(1).float() @ inside.to(latents.device) + self.bias + self.metadata["region"]["offset"]

    @property
    def typical_logit(self) -> float | None:
        """The median logit of the attribute's own positive examples: how far "has the attribute" is for this
        classifier (set when its strength is tuned; None before)."""
        value = self.metadata.get("tuning", {}).get("positive_median_logit")
        return None if value is None else float(value)

    def logit(self, latents: torch.Tensor) -> torch.Tensor:
        """The classifier's logit f(z); r(c=1|z) = sigmoid(f(z)) for both kinds."""
        check_latents(latents, self.latent_shape)
        return latents.flatten(1).float() @ self.weight.to(latents.device) + self.bias

    def log_prob(self, latents: torch.Tensor, target: bool = True) -> torch.Tensor:
        """log r(c = target | z), shape (N,)."""
        score = self.logit(latents)
        return F.logsigmoid(score if target else -score)

    def probability(self, latents: torch.Tensor, target: bool = True) -> torch.Tensor:
        return self.log_prob(latents, target).exp()

    def to_bytes(self) -> tuple[bytes, bytes]:
        """(safetensors weights, JSON metadata), the two files of `save`."""
        tensors = {"weight": self.weight.float().contiguous(), "bias": torch.tensor([self.bias])}
        if self.direction is not None:
            tensors["direction"] = self.direction.float().contiguous()
        if self.region is not None:
            tensors["region"] = self.region.float().contiguous()
        info = {"name": self.name, "kind": self.kind, "latent_shape": list(self.latent_shape), **self.metadata}
        return save(tensors), json.dumps(info, indent=2).encode()

    @classmethod
    def from_bytes(cls, weights: bytes, info: bytes) -> AttributeClassifier:
        tensors, meta = load(weights), json.loads(info)
        name, kind, shape = meta.pop("name"), meta.pop("kind"), tuple(meta.pop("latent_shape"))
        return cls(
            name,
            kind,
            tensors["weight"],
            float(tensors["bias"][0]),
            shape,
            meta,
            tensors.get("direction"),
            tensors.get("region"),
        )

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        weights, info = self.to_bytes()
        (directory / f"{self.name}.safetensors").write_bytes(weights)
        (directory / f"{self.name}.json").write_bytes(info)

    @classmethod
    def load(cls, directory: str | Path, name: str) -> AttributeClassifier:
        directory = Path(directory)
        weights, info = directory / f"{name}.safetensors", directory / f"{name}.json"
        if not weights.is_file() or not info.is_file():
            raise AttributeDefinitionError(f"attribute {name!r} not found in {directory}")
        return cls.from_bytes(weights.read_bytes(), info.read_bytes())


def check_latents(latents: torch.Tensor, latent_shape: tuple[int, ...]) -> None:
    if latents.dim() < 2 or tuple(latents.shape[1:]) != tuple(latent_shape):
        raise AttributeDefinitionError(
            f"latents of shape {tuple(latents.shape[1:])} do not match the classifier's {tuple(latent_shape)}"
        )
    if not torch.isfinite(latents).all():
        raise AttributeDefinitionError("latents contain NaN or infinite values")


def check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name or ""):
        raise AttributeDefinitionError(f"attribute name {name!r} must match {NAME_PATTERN.pattern}")


def _logistic_many(features: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor, l2: torch.Tensor, balanced: bool):
    """M independent L2-regularised logistic regressions, each on the examples its mask keeps (weighted by it);
    returns weights (M, D) and biases (M,).

    With few rows (N^2 <= NEWTON_ROWS * D: binary fits and their cross-validation) by Newton's method in the span of
    the rows (_logistic_newton). Else (PU fits against the unlabeled pool) by one L-BFGS run on the sum of the
    objectives: they are separable, so it fits them all at once, where Newton would need a (D + 1)^2 Hessian per model
    and step (g's 6 models on 3,100 rows of 1,024 values, one thread: 13.5 s against 0.5 s).
    """
    masks = masks.float()
    if balanced:  # each class carries half the weight within each model's own training subset
        positives = (masks * labels).sum(dim=1, keepdim=True).clamp(min=1)
        negatives = (masks * (1 - labels)).sum(dim=1, keepdim=True).clamp(min=1)
        masks = masks * torch.where(labels > 0.5, 1 / positives, 1 / negatives)
    masks = masks / masks.sum(dim=1, keepdim=True)
    if len(features) ** 2 <= NEWTON_ROWS * features.shape[1]:
        return _logistic_newton(features, labels, masks, l2)
    weight = torch.zeros(len(masks), features.shape[1], requires_grad=True)
    bias = torch.zeros(len(masks), requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        logits = weight @ features.t() + bias[:, None]
        loss = _penalised_loss(masks, labels, logits, l2, weight.pow(2).sum(dim=1)).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return weight.detach(), bias.detach()


def _logistic_newton(features: torch.Tensor, labels: torch.Tensor, example_weights: torch.Tensor, l2: torch.Tensor):
    """Minimises sum_i c_mi BCE(w_m . x_i + b_m, y_i) + l2_m |w_m|^2 / 2 for each row c_m of `example_weights`
    (M, N), l2 > 0, by Newton's method (IRLS) in the span of the rows, the representer theorem: w_m = a_m X, so the
    Gram matrix K = X X^T, computed once for all M models, gives every logit, and each step solves one N x N system
    per model (Cholesky, batched) instead of a (D + 1)^2 one. Steps are halved until the objective falls enough
    (Armijo), which keeps nearly separable classes at small l2 from overshooting; it stops when the gradient norm is
    NEWTON_TOLERANCE of its value at zero. Float64 inside; returns float32 weights (M, D) and biases (M,).
    """
    x, y, c, l2 = features.double(), labels.double(), example_weights.double(), l2.double()[:, None]
    gram = x @ x.t()
    a = torch.zeros_like(c)
    bias = torch.zeros(len(c), dtype=torch.float64)
    ka = torch.zeros_like(c)  # a K: the logits less the bias
    start = None
    for _ in range(NEWTON_STEPS):
        logits = ka + bias[:, None]
        probability = torch.sigmoid(logits)
        residual = c * (probability - y)  # the loss's derivative in each logit
        v = residual + l2 * a  # the weight gradient is v X
        kv = v @ gram
        bias_gradient = residual.sum(dim=1)
        norm = ((v * kv).sum(dim=1) + bias_gradient.pow(2)).sqrt()
        start = norm if start is None else start
        if (norm <= NEWTON_TOLERANCE * start).all():
            break
        # the Newton step (da, db) moves the logits by dz = da K + db and lands on a + da = -(r + W dz) / l2, with
        # W = c p (1 - p); in u = sqrt(W) dz that is (l2 + sqrt(W) K sqrt(W)) u = sqrt(W) (l2 db - K v), positive
        # definite, and the bias's own equation sum(W dz) = -sum(r) fixes db
        root = (c * probability * (1 - probability)).sqrt()
        system = root[:, :, None] * gram * root[:, None, :]
        system.diagonal(dim1=1, dim2=2).add_(l2)
        factor = torch.linalg.cholesky(system)
        u, spread = torch.cholesky_solve(torch.stack([-root * kv, root], dim=2), factor).unbind(2)
        bias_step = -(bias_gradient + (root * u).sum(dim=1)) / (l2[:, 0] * (root * spread).sum(dim=1))
        a_step = -(residual + root * (u + l2 * bias_step[:, None] * spread)) / l2 - a
        ka_step = a_step @ gram
        slope = (v * ka_step).sum(dim=1) + bias_gradient * bias_step
        now = _penalised_loss(c, y, logits, l2[:, 0], (a * ka).sum(dim=1))
        step = torch.ones_like(bias)
        for _ in range(60):  # a step halved 60 times leaves the model where it is
            moved_a, moved_ka = a + step[:, None] * a_step, ka + step[:, None] * ka_step
            moved_logits = moved_ka + (bias + step * bias_step)[:, None]
            value = _penalised_loss(c, y, moved_logits, l2[:, 0], (moved_a * moved_ka).sum(dim=1))
            # the slack lets a step through whose decrease is below the objective's rounding, as near the optimum
            enough = value <= now + 1e-4 * step * slope + 1e-12 * now.abs()
            if enough.all():
                break
            step = torch.where(enough, step, step / 2)
        a, bias, ka = a + step[:, None] * a_step, bias + step * bias_step, ka + step[:, None] * ka_step
    return (a @ x).float(), bias.float()


def _penalised_loss(
    weights: torch.Tensor, labels: torch.Tensor, logits: torch.Tensor, l2: torch.Tensor, squared_norm: torch.Tensor
) -> torch.Tensor:
    """(M,) sum_i c_mi BCE(logit_mi, y_i) + l2_m |w_m|^2 / 2, from example weights c and logits (M, N) and |w_m|^2."""
    return (weights * (F.softplus(logits) - labels * logits)).sum(dim=1) + 0.5 * l2 * squared_norm


def _logistic(features: torch.Tensor, labels: torch.Tensor, l2: float, balanced: bool = False):
    """One L2-regularised logistic regression; returns (weight, bias)."""
    weight, bias = _logistic_many(features, labels, torch.ones(1, len(labels)), torch.tensor([l2]), balanced)
    return weight[0], float(bias[0])


def _folds(count: int, k: int, generator: torch.Generator) -> list[torch.Tensor]:
    return list(torch.randperm(count, generator=generator).chunk(k))


def _with_mirrors(features: torch.Tensor, labels: torch.Tensor, mirrors: torch.Tensor | None):
    """Training rows: the examples, then their mirror images (same labels; row i + N mirrors row i)."""
    if mirrors is None:
        return features, labels
    return torch.cat([features, mirrors]), torch.cat([labels, labels])


def _cv_balanced_accuracy(
    features: torch.Tensor, labels: torch.Tensor, folds: list[torch.Tensor], mirrors: torch.Tensor | None = None
) -> dict[float, float]:
    """Mean held-out balanced accuracy of each strength in L2_GRID; the folds of one strength are fitted together.

    A held-out example's mirror image is held out with it, so the score never sees a training example's twin.
    """
    rows, row_labels = _with_mirrors(features, labels, mirrors)
    masks = torch.ones(len(folds), len(row_labels))
    for row, held_out in enumerate(folds):
        masks[row, held_out] = 0
        if mirrors is not None:
            masks[row, held_out + len(labels)] = 0
    scores = {}
    for l2 in L2_GRID:
        weights, biases = _logistic_many(rows, row_labels, masks, torch.full((len(folds),), l2), balanced=True)
        accuracies = []
        for held_out, weight, bias in zip(folds, weights, biases):
            predicted, truth = ((features[held_out] @ weight + bias) > 0).float(), labels[held_out]
            recalls = [
                (predicted[truth == value] == value).float().mean() for value in (0.0, 1.0) if (truth == value).any()
            ]
            accuracies.append(float(torch.stack(recalls).mean()))
        scores[l2] = sum(accuracies) / len(accuracies)
    return scores


def _prepare(name: str, positive: torch.Tensor, minimum: int, label: str) -> None:
    check_name(name)
    if positive.dim() < 2 or len(positive) < minimum:
        raise AttributeDefinitionError(
            f"need at least {minimum} {label} examples, got {0 if positive.dim() < 2 else len(positive)}"
        )
    if not torch.isfinite(positive).all():
        raise AttributeDefinitionError(f"{label} latents contain NaN or infinite values")


def latent_covariance(latents: torch.Tensor, shrinkage: float = COVARIANCE_SHRINKAGE) -> torch.Tensor:
    """(D, D) covariance of flattened latents, shrunk towards its mean variance so it stays well conditioned."""
    flat = latents.flatten(1).float().cpu()
    if len(flat) < 2 or not torch.isfinite(flat).all():
        raise AttributeDefinitionError("a latent covariance needs at least 2 finite latents")
    covariance = torch.cov(flat.t())
    return (1 - shrinkage) * covariance + shrinkage * covariance.diagonal().mean() * torch.eye(len(covariance))


def pool_prevalence(logits: torch.Tensor, iterations: int = 100) -> float:
    """The share of a pool in the class, from the logits of a classifier fitted on balanced classes: EM for a shifted
    class prior (Saerens, Latinne and Decaestecker 2002), each step the mean posterior under the previous prior."""
    prior = 0.5
    for _ in range(iterations):
        prior = float(torch.sigmoid(logits + math.log(prior / (1 - prior))).mean().clamp(1e-3, 1 - 1e-3))
    return prior


def pool_class_difference(weight: torch.Tensor, bias: float, pool: torch.Tensor) -> torch.Tensor:
    """(D,) E[z | c] - E[z | not c] over the pool, each latent weighted by the classifier's posterior at the pool's
    own prevalence (pool_prevalence): how faces with the attribute differ from faces without it.

    Sigma w is the same difference with the classifier's raw score in place of the posterior; for a rare attribute
    the score's false positives dominate it (eyeglasses: 23% of the pool score positive, 6% wear them).
    """
    flat = pool.flatten(1).float().cpu()
    logits = flat @ weight + bias
    prior = pool_prevalence(logits)
    posterior = torch.sigmoid(logits + math.log(prior / (1 - prior)))[:, None]
    return (posterior * flat).sum(0) / posterior.sum().clamp(min=1e-6) - ((1 - posterior) * flat).sum(0) / (
        1 - posterior
    ).sum().clamp(min=1e-6)


def conditional_class_difference(
    latents: torch.Tensor, labels: torch.Tensor, covariates: torch.Tensor, ridge: float = 1e-6
) -> torch.Tensor:
    """(D,) how faces with the attribute differ from faces without it, with the covariates held: the label's
    coefficient in the least-squares regression of the latents on the label and the covariates, each centred
    (Frisch-Waugh-Lovell: the class-mean difference once both are rid of what the covariates explain).

    With a face's other labels as covariates it is what the attribute itself changes, not what co-occurs with it
    among 100 examples (glasses with age: eyeglasses added kept more of the oracle's other attributes, see
    with_labels_held). `ridge` only keeps a label that never varies from making the system singular.
    """
    design = torch.cat([labels.float()[:, None], covariates.float()], dim=1)
    design = design - design.mean(dim=0)
    flat = latents.flatten(1).float().cpu()
    gram = design.t() @ design + ridge * torch.eye(design.shape[1])
    return torch.linalg.solve(gram, design.t() @ (flat - flat.mean(dim=0)))[0]


def with_labels_held(
    classifier: AttributeClassifier,
    latents: torch.Tensor,
    labels: torch.Tensor,
    covariates: torch.Tensor,
    covariance: torch.Tensor,
    pool: torch.Tensor,
    held: torch.Tensor | None = None,
) -> AttributeClassifier:
    """A copy of `classifier` that edits along conditional_class_difference of its labelled example `latents`
    (their `labels`, and the other labels `covariates` held), with the readouts `held` kept as fit_binary keeps
    them and the region re-cut at the classifier's own cut. The classifier itself (w, b) is unchanged.

    Measured (session 27, docs/experiments.md): eyeglasses with the 20 labels that correlate with it among its
    examples held, on 500 test faces at the same strengths, added 0.70 / 0.871 -> 0.778 / 0.876 success /
    preservation and removed 0.41 / 0.911 -> 0.378 / 0.914; a smile's or a lipstick's correlates are what it is made
    of, and holding them stopped those edits (pipelines.builtins LABELS_HELD says which built-ins use it).
    """
    if len(latents) != len(labels) or len(latents) != len(covariates):
        raise AttributeDefinitionError("latents, labels and covariates must have one row per example")
    difference = conditional_class_difference(latents, labels, covariates)
    name = f"class means with {covariates.shape[1]} labels held"
    direction, metric = _direction(classifier.weight, covariance, held, difference, difference_name=name)
    changed = replace(classifier, direction=direction, metadata={**classifier.metadata, "edit_metric": metric})
    return with_region(changed, pool, classifier.metadata.get("region", {}).get("threshold", REGION_THRESHOLD))


def _direction(
    weight: torch.Tensor,
    covariance: torch.Tensor | None,
    held: torch.Tensor | None = None,
    difference: torch.Tensor | None = None,
    difference_name: str = "pool class means",
) -> tuple[torch.Tensor | None, str]:
    """The edit direction: `difference` (pool_class_difference, or conditional_class_difference named by
    `difference_name`) when given, else d = Sigma w; then, with `held` readouts H (k x D), the closest direction in
    the Sigma metric that leaves every readout unchanged: d - Sigma H^T (H Sigma H^T)^-1 H d, so H d = 0."""
    if covariance is None and held is None and difference is None:
        return None, "euclidean"
    if covariance is not None and covariance.shape != (len(weight), len(weight)):
        raise AttributeDefinitionError(
            f"latent covariance of shape {tuple(covariance.shape)} does not match {len(weight)} latent values"
        )
    metric = covariance.float() if covariance is not None else torch.eye(len(weight))
    if difference is not None:
        direction, name = difference.float(), difference_name
    else:
        direction, name = metric @ weight, "covariance" if covariance is not None else "euclidean"
    if held is None:
        return direction, name
    if held.shape[1:] != (len(weight),):
        raise AttributeDefinitionError(f"held readouts of shape {tuple(held.shape)} do not match {len(weight)} values")
    spread = metric @ held.float().t()
    direction = direction - spread @ torch.linalg.solve(held.float() @ spread, held.float() @ direction)
    return direction, f"{name}, skin colour held"


def edit_region(
    weight: torch.Tensor,
    direction: torch.Tensor,
    pool: torch.Tensor,
    latent_shape: tuple[int, ...],
    threshold: float = REGION_THRESHOLD,
) -> tuple[torch.Tensor | None, dict]:
    """The latent cells (spatial positions of a C x H x W latent) where an attribute lives, and the offset that
    makes `AttributeClassifier.edit_logit` hold the rest at the pool's mean.

    A cell's energy is the direction's squared size there in units of the pool's spread per value, summed over the
    channels; cells at `threshold` times the mean energy or more (always the strongest one) form the region. With
    100 examples, the weak cells carry mostly what the examples happen to share (light, hair, background), and
    moving only the strong ones draws eyeglasses at the eyes and a smile at the mouth instead of smudging the face.
    Returns (None, {}) for latents without two spatial axes.
    """
    if len(latent_shape) != 3:
        return None, {}
    flat = pool.flatten(1).float().cpu()
    spread = flat.std(dim=0).clamp(min=1e-6).reshape(latent_shape)
    energy = (direction.reshape(latent_shape) / spread).pow(2).sum(dim=0)
    energy = energy / energy.mean().clamp(min=1e-12)
    cells = (energy >= threshold) | (energy == energy.max())
    region = cells.expand(latent_shape).flatten().float()
    offset = float((weight * (1 - region)) @ flat.mean(dim=0))
    return region, {"cells": int(cells.sum()), "of": cells.numel(), "threshold": threshold, "offset": round(offset, 6)}


def with_region(classifier: AttributeClassifier, pool: torch.Tensor, threshold: float) -> AttributeClassifier:
    """A copy of `classifier` whose region is cut at `threshold` times the mean cell's energy (edit_region); the
    classifier itself is unchanged. A classifier without a region (no spatial latent) comes back as it is."""
    if classifier.region is None:
        return classifier
    region, info = edit_region(classifier.weight, classifier.edit_direction, pool, classifier.latent_shape, threshold)
    return replace(classifier, region=region, metadata={**classifier.metadata, "region": info})


def region_footprint(region: torch.Tensor, latent_shape: tuple[int, ...], resolution: int) -> torch.Tensor:
    """(resolution, resolution) weights in [0, 1]: the pixels a region's latent cells (edit_region) stand for, grown
    by FOOTPRINT_GROW and feathered by FOOTPRINT_FEATHER (shares of the frame), so a local edit's decoded change
    can be kept to them. The decoder spreads a cell's change over its neighbours' pixels too; outside the region
    that spread is what made earrings, chins and the background move when glasses were drawn."""
    cells = region.reshape(latent_shape)[0].float()[None, None]
    footprint = F.interpolate(cells, size=(resolution, resolution), mode="nearest")
    grow = max(1, round(FOOTPRINT_GROW * resolution))
    footprint = F.max_pool2d(footprint, 2 * grow + 1, stride=1, padding=grow)
    sigma = FOOTPRINT_FEATHER * resolution
    radius = math.ceil(3 * sigma)
    kernel = torch.exp(-torch.arange(-radius, radius + 1).float().pow(2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    footprint = F.conv2d(F.pad(footprint, (radius, radius, 0, 0), mode="replicate"), kernel.reshape(1, 1, 1, -1))
    footprint = F.conv2d(F.pad(footprint, (0, 0, radius, radius), mode="replicate"), kernel.reshape(1, 1, -1, 1))
    return footprint[0, 0].clamp(0, 1)


def skin_readout(decoded: torch.Tensor, latents: torch.Tensor, ridge: float = READOUT_RIDGE) -> torch.Tensor:
    """(3, D) ridge regression of the mean cheek colour of decoded images (N x 3 x H x W) on their latents: the
    linear part of how the decoder paints skin, which edits hold fixed (see _direction)."""
    height, width = decoded.shape[-2:]
    top, bottom = CHEEK_ROWS
    mask = torch.zeros(height, width, dtype=torch.bool)
    for left, right in CHEEK_COLUMNS:
        mask[round(top * height) : round(bottom * height), round(left * width) : round(right * width)] = True
    colour = decoded.float()[:, :, mask].mean(dim=2)
    flat = latents.flatten(1).float().cpu()
    flat, colour = flat - flat.mean(0), colour.cpu() - colour.cpu().mean(0)
    return torch.linalg.solve(flat.t() @ flat + ridge * torch.eye(flat.shape[1]), flat.t() @ colour).t()


def save_skin_readout(checkpoint: str | Path, readout: torch.Tensor) -> None:
    from safetensors.torch import save_file

    save_file({"readout": readout.float().contiguous()}, str(Path(checkpoint) / SKIN_READOUT_FILE))


def load_skin_readout(checkpoint: str | Path) -> torch.Tensor | None:
    """The checkpoint's skin-colour readout, or None when it ships none (edits then may shift skin tone)."""
    from safetensors.torch import load_file

    path = Path(checkpoint) / SKIN_READOUT_FILE
    return load_file(str(path))["readout"] if path.is_file() else None


def fit_binary(
    name: str,
    positive_latents: torch.Tensor,
    negative_latents: torch.Tensor,
    seed: int = 0,
    covariance: torch.Tensor | None = None,
    mirrors: tuple[torch.Tensor, torch.Tensor] | None = None,
    held: torch.Tensor | None = None,
    pool: torch.Tensor | None = None,
    teacher: Teacher | None = None,
) -> AttributeClassifier:
    """Logistic regression r(c|z) from labelled latents; L2 strength chosen by 5-fold balanced accuracy.

    `covariance` (of the model's latents, see latent_covariance) sets the edit direction Sigma w, or, with the
    unlabeled `pool` it was computed from, the pool's class-mean difference (pool_class_difference); either keeps
    the readouts in `held` (e.g. skin_readout) unchanged; with the pool it also gets its edit region (edit_region).
    `mirrors` are the latents of the same positive and negative images flipped left-right, in the same order: face
    attributes do not change in a mirror, so they double the examples for free (held out with their originals in CV).
    With a `teacher` (the checkpoint's head features, model/teacher.py), the regression is fitted on the teacher's
    features and then distilled into a linear r(c|z) on the teacher's pool (`Teacher.distill`).
    """
    started = time.perf_counter()
    _prepare(name, positive_latents, 2, "positive")
    _prepare(name, negative_latents, 2, "negative")
    if positive_latents.shape[1:] != negative_latents.shape[1:]:
        raise AttributeDefinitionError("positive and negative latents have different shapes")
    features = torch.cat([positive_latents, negative_latents]).flatten(1).float().cpu()
    labels = torch.cat([torch.ones(len(positive_latents)), torch.zeros(len(negative_latents))])
    mirror_features = None
    if mirrors is not None:
        if tuple(mirrors[0].shape) != tuple(positive_latents.shape) or tuple(mirrors[1].shape) != tuple(
            negative_latents.shape
        ):
            raise AttributeDefinitionError("mirror latents must match the positive and negative latents one for one")
        mirror_features = torch.cat(mirrors).flatten(1).float().cpu()
        if not torch.isfinite(mirror_features).all():
            raise AttributeDefinitionError("mirror latents contain NaN or infinite values")
    folds = _folds(
        len(labels), min(5, int(min(len(positive_latents), len(negative_latents)))), torch.Generator().manual_seed(seed)
    )
    if teacher is not None:
        features = teacher(features)
        mirror_features = None if mirror_features is None else teacher(mirror_features)
    scored = _cv_balanced_accuracy(features, labels, folds, mirror_features)
    best_l2 = max(scored, key=lambda l2: (scored[l2], l2))
    weight, bias = _logistic(*_with_mirrors(features, labels, mirror_features), best_l2, balanced=True)
    distilled = {}
    if teacher is not None:
        weight, bias, agreement = teacher.distill(weight, bias)
        distilled = {"teacher": {"l2": best_l2, "pool_agreement": round(agreement, 4)}}
    difference = None if pool is None else pool_class_difference(weight, bias, pool)
    direction, metric = _direction(weight, covariance, held, difference)
    shape = tuple(positive_latents.shape[1:])
    region, region_info = (None, {}) if pool is None else edit_region(weight, direction, pool, shape)
    metadata = {
        "positives": len(positive_latents),
        "negatives": len(negative_latents),
        "unlabeled": 0,
        "mirrored": mirrors is not None,
        "cv_accuracy": round(scored[best_l2], 4),
        "l2": best_l2,
        "edit_metric": metric,
        **distilled,
        **({"region": region_info} if region is not None else {}),
        "fit_seconds": round(time.perf_counter() - started, 3),
    }
    return AttributeClassifier(name, "binary", weight, bias, shape, metadata, direction, region)


def fit_pu(
    name: str,
    positive_latents: torch.Tensor,
    unlabeled_latents: torch.Tensor,
    l2: float | None = None,
    seed: int = 0,
    covariance: torch.Tensor | None = None,
    held: torch.Tensor | None = None,
    teacher: Teacher | None = None,
) -> AttributeClassifier:
    """PU classifier from positives and an unlabeled pool, by Elkan and Noto's (2008) weighting.

    1. g(z) = p(labeled | z): logistic regression of the positives against the pool;
    2. k = E[g | positive], on held-out positives, so g's confidence on its own training positives does not bias it;
    3. each pool latent is a positive with probability w = (1 - k) / k * g / (1 - g) (clipped to 1):
       r(c|z) is a logistic regression of the positives (weight 1) and the pool, each pool latent counted once as a
       positive with weight w and once as a negative with weight 1 - w, classes balanced.
    Unlike the unbiased PU risk (du Plessis et al. 2015), whose linear term on the positives rewards ever larger
    scores (blond's positives reached a median logit of 74, beyond any edit), this stays a calibrated logistic
    model like the binary one. The pool is a sample of the model's latents, so its covariance sets the edit
    direction Sigma w; pass `covariance` when it is already computed (latent_covariance of this pool). With a
    `teacher`, steps 1-3 run on its features and r is distilled into a linear r(c|z) (4., `Teacher.distill`).
    `l2` is r's L2 strength; by default PU_L2, or TAUGHT_PU_L2 with a teacher (g's follows the same choice).
    """
    started = time.perf_counter()
    _prepare(name, positive_latents, 5, "positive")
    _prepare(name, unlabeled_latents, 10, "unlabeled")
    if positive_latents.shape[1:] != unlabeled_latents.shape[1:]:
        raise AttributeDefinitionError("positive latents do not match the unlabeled pool's latent shape")
    positive = positive_latents.flatten(1).float().cpu()
    unlabeled = unlabeled_latents.flatten(1).float().cpu()
    # steps 1-3 run on the teacher's features when there is one; step 4 brings r back to the latent
    taught = teacher is not None
    labeling_l2 = TAUGHT_LABELING_L2 if taught else LABELING_L2
    l2 = (TAUGHT_PU_L2 if taught else PU_L2) if l2 is None else l2
    positive_x, unlabeled_x = (teacher(positive), teacher(unlabeled_latents)) if taught else (positive, unlabeled)
    positive_folds = _folds(len(positive), 5, torch.Generator().manual_seed(seed))
    # 1-2. the five fold models of g and the full one are fitted together
    features = torch.cat([positive_x, unlabeled_x])
    labels = torch.cat([torch.ones(len(positive)), torch.zeros(len(unlabeled))])
    masks = torch.ones(len(positive_folds) + 1, len(labels))
    for row, held_out in enumerate(positive_folds):
        masks[row, held_out] = 0
    weights, biases = _logistic_many(features, labels, masks, torch.full((len(masks),), labeling_l2), balanced=False)
    held_scores = torch.cat(
        [
            torch.sigmoid(positive_x[held_out] @ weights[row] + biases[row])
            for row, held_out in enumerate(positive_folds)
        ]
    )
    k = float(held_scores.mean().clamp(1e-4, 1 - 1e-4))
    # 3. (1 - k) / k * g / (1 - g) = exp(logit g + log((1 - k) / k))
    positive_share = (unlabeled_x @ weights[-1] + biases[-1] + math.log((1 - k) / k)).exp().clamp(max=1.0)
    rows = torch.cat([positive_x, unlabeled_x, unlabeled_x])
    row_labels = torch.cat([torch.ones(len(positive) + len(unlabeled)), torch.zeros(len(unlabeled))])
    row_weights = torch.cat([torch.ones(len(positive)), positive_share, 1 - positive_share])
    weight, bias = _logistic_many(rows, row_labels, row_weights[None], torch.tensor([l2]), balanced=True)
    weight, bias = weight[0], float(bias[0])
    distilled = {}
    if taught:  # 4. the teacher's r, distilled into a linear r(c|z) on the pool
        weight, bias, agreement = teacher.distill(weight, bias)
        distilled = {"teacher": {"l2": l2, "pool_agreement": round(agreement, 4)}}
    recall = float(((positive @ weight + bias) > 0).float().mean())
    direction, metric = _direction(weight, latent_covariance(unlabeled) if covariance is None else covariance, held)
    shape = tuple(positive_latents.shape[1:])
    region, region_info = edit_region(weight, direction, unlabeled_latents, shape)
    metadata = {
        "positives": len(positive),
        "negatives": 0,
        "unlabeled": len(unlabeled),
        "label_frequency": round(k, 4),
        "class_prior": round(float(positive_share.mean()), 4),
        "positive_recall": round(recall, 4),
        "cv_accuracy": None,
        "l2": l2,
        "edit_metric": metric,
        **distilled,
        **({"region": region_info} if region is not None else {}),
        "fit_seconds": round(time.perf_counter() - started, 3),
    }
    return AttributeClassifier(name, "pu", weight, bias, shape, metadata, direction, region)


def load_unlabeled_pool(checkpoint: str | Path) -> torch.Tensor:
    """The training-set latents shipped beside a checkpoint for PU fitting."""
    from safetensors.torch import load_file

    path = Path(checkpoint) / POOL_FILE
    if not path.is_file():
        raise AttributeDefinitionError(
            f"{path} is missing: this checkpoint ships no unlabeled pool, so PU attributes cannot be fitted"
        )
    return load_file(str(path))["latents"].float()


def save_unlabeled_pool(checkpoint: str | Path, latents: torch.Tensor) -> None:
    from safetensors.torch import save_file

    save_file({"latents": latents.half().contiguous()}, str(Path(checkpoint) / POOL_FILE))


def builtin_directory(checkpoint: str | Path) -> Path:
    return Path(checkpoint) / ATTRIBUTES_DIR
