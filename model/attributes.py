"""Few-shot attribute classifiers r(c|z) on D2C latents (paper Sec. 5, Algorithm 1 line 3).

Both kinds are linear in the flattened latent, so one fits 100 examples in milliseconds and its gradient,
used by manipulation, is a fixed direction scaled by how unsure the classifier is.

- binary: L2-regularised logistic regression from positives and negatives, strength picked by 5-fold CV.
- pu: positive-unlabeled learning. Elkan and Noto (2008) estimate the class prior of the unlabeled pool from a
  classifier g(z) = p(labeled | z) and k = E[g | positive]; a logistic r(c|z) is then fitted by minimising the
  unbiased PU risk (du Plessis et al. 2015), convex for the logistic loss: -pi E_P[f] + E_U[log(1 + e^f)].
"""
from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load, save
from torch.nn import functional as F

NAME_PATTERN = re.compile(r"^[a-z0-9_]{1,40}$")
L2_GRID = (1e-3, 1e-2, 1e-1, 1.0)  # weight-decay strengths tried by cross-validation (per example, on unit-RMS latents)
POOL_FILE = "unlabeled_latents.safetensors"


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
        info = {"name": self.name, "kind": self.kind, "latent_shape": list(self.latent_shape), **self.metadata}
        return save(tensors), json.dumps(info, indent=2).encode()

    @classmethod
    def from_bytes(cls, weights: bytes, info: bytes) -> "AttributeClassifier":
        tensors, meta = load(weights), json.loads(info)
        name, kind, shape = meta.pop("name"), meta.pop("kind"), tuple(meta.pop("latent_shape"))
        return cls(name, kind, tensors["weight"], float(tensors["bias"][0]), shape, meta)

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        weights, info = self.to_bytes()
        (directory / f"{self.name}.safetensors").write_bytes(weights)
        (directory / f"{self.name}.json").write_bytes(info)

    @classmethod
    def load(cls, directory: str | Path, name: str) -> "AttributeClassifier":
        directory = Path(directory)
        weights, info = directory / f"{name}.safetensors", directory / f"{name}.json"
        if not weights.is_file() or not info.is_file():
            raise AttributeDefinitionError(f"attribute {name!r} not found in {directory}")
        return cls.from_bytes(weights.read_bytes(), info.read_bytes())


def check_latents(latents: torch.Tensor, latent_shape: tuple[int, ...]) -> None:
    if latents.dim() < 2 or tuple(latents.shape[1:]) != tuple(latent_shape):
        raise AttributeDefinitionError(f"latents of shape {tuple(latents.shape[1:])} do not match the classifier's {tuple(latent_shape)}")
    if not torch.isfinite(latents).all():
        raise AttributeDefinitionError("latents contain NaN or infinite values")


def check_name(name: str) -> None:
    if not NAME_PATTERN.match(name or ""):
        raise AttributeDefinitionError(f"attribute name {name!r} must match {NAME_PATTERN.pattern}")


def _logistic(features: torch.Tensor, labels: torch.Tensor, l2: float, sample_weight: torch.Tensor | None = None):
    """L2-regularised logistic regression by L-BFGS; returns (weight, bias)."""
    weight = torch.zeros(features.shape[1], requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    sample_weight = torch.ones(len(labels)) if sample_weight is None else sample_weight
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=100, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = (F.binary_cross_entropy_with_logits(features @ weight + bias, labels, reduction="none") * sample_weight).sum()
        loss = loss / sample_weight.sum() + 0.5 * l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return weight.detach(), float(bias.detach())


def _balanced_weights(labels: torch.Tensor) -> torch.Tensor:
    positives = labels.sum().clamp(min=1)
    negatives = (1 - labels).sum().clamp(min=1)
    return torch.where(labels > 0.5, len(labels) / (2 * positives), len(labels) / (2 * negatives))


def _folds(count: int, k: int, generator: torch.Generator) -> list[torch.Tensor]:
    return list(torch.randperm(count, generator=generator).chunk(k))


def _cv_balanced_accuracy(features, labels, l2: float, folds) -> float:
    scores = []
    for held_out in folds:
        train = torch.ones(len(labels), dtype=torch.bool)
        train[held_out] = False
        weight, bias = _logistic(features[train], labels[train], l2, _balanced_weights(labels[train]))
        predicted = ((features[held_out] @ weight + bias) > 0).float()
        truth = labels[held_out]
        recalls = [(predicted[truth == value] == value).float().mean() for value in (0.0, 1.0) if (truth == value).any()]
        scores.append(float(torch.stack(recalls).mean()))
    return sum(scores) / len(scores)


def _prepare(name: str, positive: torch.Tensor, minimum: int, label: str) -> None:
    check_name(name)
    if positive.dim() < 2 or len(positive) < minimum:
        raise AttributeDefinitionError(f"need at least {minimum} {label} examples, got {0 if positive.dim() < 2 else len(positive)}")
    if not torch.isfinite(positive).all():
        raise AttributeDefinitionError(f"{label} latents contain NaN or infinite values")


def fit_binary(name: str, positive_latents: torch.Tensor, negative_latents: torch.Tensor, seed: int = 0) -> AttributeClassifier:
    """Logistic regression r(c|z) from labelled latents; L2 strength chosen by 5-fold balanced accuracy."""
    started = time.perf_counter()
    _prepare(name, positive_latents, 2, "positive")
    _prepare(name, negative_latents, 2, "negative")
    if positive_latents.shape[1:] != negative_latents.shape[1:]:
        raise AttributeDefinitionError("positive and negative latents have different shapes")
    features = torch.cat([positive_latents, negative_latents]).flatten(1).float().cpu()
    labels = torch.cat([torch.ones(len(positive_latents)), torch.zeros(len(negative_latents))])
    folds = _folds(len(labels), min(5, int(min(len(positive_latents), len(negative_latents)))), torch.Generator().manual_seed(seed))
    scored = {l2: _cv_balanced_accuracy(features, labels, l2, folds) for l2 in L2_GRID}
    best_l2 = max(scored, key=lambda l2: (scored[l2], l2))
    weight, bias = _logistic(features, labels, best_l2, _balanced_weights(labels))
    metadata = {
        "positives": len(positive_latents), "negatives": len(negative_latents), "unlabeled": 0,
        "cv_accuracy": round(scored[best_l2], 4), "l2": best_l2,
        "fit_seconds": round(time.perf_counter() - started, 3),
    }
    return AttributeClassifier(name, "binary", weight, bias, tuple(positive_latents.shape[1:]), metadata)


def _pu_logistic(positive: torch.Tensor, unlabeled: torch.Tensor, prior: float, l2: float):
    """Linear f minimising the unbiased PU logistic risk -pi E_P[f] + E_U[softplus(f)] + l2/2 |w|^2."""
    weight = torch.zeros(positive.shape[1], requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        risk = -prior * (positive @ weight + bias).mean() + F.softplus(unlabeled @ weight + bias).mean()
        loss = risk + 0.5 * l2 * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return weight.detach(), float(bias.detach())


def fit_pu(name: str, positive_latents: torch.Tensor, unlabeled_latents: torch.Tensor, l2: float = 1e-2, seed: int = 0) -> AttributeClassifier:
    """PU classifier from positives and an unlabeled pool: Elkan-Noto class prior, then the unbiased PU risk."""
    started = time.perf_counter()
    _prepare(name, positive_latents, 5, "positive")
    _prepare(name, unlabeled_latents, 10, "unlabeled")
    if positive_latents.shape[1:] != unlabeled_latents.shape[1:]:
        raise AttributeDefinitionError("positive latents do not match the unlabeled pool's latent shape")
    positive = positive_latents.flatten(1).float().cpu()
    unlabeled = unlabeled_latents.flatten(1).float().cpu()
    # k from held-out positives, so g's overconfidence on its own training positives does not bias it
    generator = torch.Generator().manual_seed(seed)
    held_scores = []
    for held_out in _folds(len(positive), 5, generator):
        keep = torch.ones(len(positive), dtype=torch.bool)
        keep[held_out] = False
        features = torch.cat([positive[keep], unlabeled])
        labels = torch.cat([torch.ones(int(keep.sum())), torch.zeros(len(unlabeled))])
        weight, bias = _logistic(features, labels, l2)
        held_scores.append(torch.sigmoid(positive[held_out] @ weight + bias))
    k = float(torch.cat(held_scores).mean().clamp(1e-4, 1 - 1e-4))
    features = torch.cat([positive, unlabeled])
    labels = torch.cat([torch.ones(len(positive)), torch.zeros(len(unlabeled))])
    weight, bias = _logistic(features, labels, l2)
    # Elkan-Noto: an unlabeled z is positive with probability (1 - k) / k * g / (1 - g)
    odds = (unlabeled @ weight + bias + math.log((1 - k) / k)).exp()
    prior = float(odds.clamp(max=1.0).mean().clamp(0.01, 0.99))
    weight, bias = _pu_logistic(positive, unlabeled, prior, l2)
    recall = float(((positive @ weight + bias) > 0).float().mean())
    metadata = {
        "positives": len(positive), "negatives": 0, "unlabeled": len(unlabeled),
        "label_frequency": round(k, 4), "class_prior": round(prior, 4), "cv_recall": round(recall, 4),
        "cv_accuracy": None, "l2": l2, "fit_seconds": round(time.perf_counter() - started, 3),
    }
    return AttributeClassifier(name, "pu", weight, bias, tuple(positive_latents.shape[1:]), metadata)


def load_unlabeled_pool(checkpoint: str | Path) -> torch.Tensor:
    """The training-set latents shipped beside a checkpoint for PU fitting."""
    from safetensors.torch import load_file

    path = Path(checkpoint) / POOL_FILE
    if not path.is_file():
        raise AttributeDefinitionError(f"{path} is missing: this checkpoint ships no unlabeled pool, so PU attributes cannot be fitted")
    return load_file(str(path))["latents"].float()


def save_unlabeled_pool(checkpoint: str | Path, latents: torch.Tensor) -> None:
    from safetensors.torch import save_file

    save_file({"latents": latents.half().contiguous()}, str(Path(checkpoint) / POOL_FILE))


def builtin_directory(checkpoint: str | Path) -> Path:
    return Path(checkpoint) / "attributes"
