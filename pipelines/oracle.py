"""The oracle: a pixel-space CNN that predicts all 40 CelebA attributes, used only to *measure* edits and samples.

It never sees D2C latents and the product never uses it, so it judges D2C's edits independently.

    python -m pipelines.oracle --data ../shared/data/celeba64 --out checkpoints/oracle-celeba64 --minutes 15
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

from model.data import load_dataset
from model.precision import PRECISIONS, autocast, resolve_precision


class Oracle(nn.Module):
    """Four stride-2 conv stages (64 -> 4 pixels), global average pooling, one logit per attribute."""

    def __init__(self, attributes: int = 40, width: int = 32):
        super().__init__()
        layers, channels = [], 3
        for multiplier in (1, 2, 4, 8):
            out = width * multiplier
            layers += [
                nn.Conv2d(channels, out, 3, stride=2, padding=1),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
                nn.Conv2d(out, out, 3, padding=1),
                nn.BatchNorm2d(out),
                nn.ReLU(inplace=True),
            ]
            channels = out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, attributes)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> the pooled penultimate features the attribute logits are read from."""
        return self.features(images * 2 - 1).mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> attribute logits."""
        return self.classifier(self.embed(images))


def load_oracle(directory: str | Path, device: str = "cpu") -> tuple[Oracle, list[str]]:
    directory = Path(directory)
    info = json.loads((directory / "oracle.json").read_text())
    oracle = Oracle(len(info["attributes"]), info["width"])
    oracle.load_state_dict(load_file(str(directory / "oracle.safetensors")))
    return oracle.to(device).eval().requires_grad_(False), info["attributes"]


@torch.no_grad()
def predict(oracle: Oracle, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """0/1 predictions, N x 40, for images in [0, 1]."""
    device = next(oracle.parameters()).device
    return torch.cat(
        [(oracle(images[i : i + batch_size].to(device)) > 0).long().cpu() for i in range(0, len(images), batch_size)]
    )


@torch.no_grad()
def embed(oracle: Oracle, images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """Penultimate features, N x width*8, float64 on the CPU, for images in [0, 1]."""
    device = next(oracle.parameters()).device
    return torch.cat(
        [oracle.embed(images[i : i + batch_size].to(device)).double().cpu() for i in range(0, len(images), batch_size)]
    )


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2) between Gaussians fitted to two feature sets
    (Heusel et al. 2017, Eq. 6); the trace of the square root comes from the eigenvalues of S_a^1/2 S_b S_a^1/2."""
    a, b = features_a.double(), features_b.double()
    mean_a, mean_b = a.mean(dim=0), b.mean(dim=0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    values, vectors = torch.linalg.eigh(cov_a)
    root_a = vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp(min=0).sqrt().sum()
    return float((mean_a - mean_b).pow(2).sum() + cov_a.trace() + cov_b.trace() - 2 * cross)


def balanced_accuracies(predicted: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    scores = []
    for column in range(truth.shape[1]):
        recalls = [
            (predicted[truth[:, column] == v, column] == v).float().mean()
            for v in (0, 1)
            if (truth[:, column] == v).any()
        ]
        scores.append(torch.stack(recalls).mean())
    return torch.stack(scores)


def train(
    data: str,
    out: Path,
    minutes: float,
    batch_size: int = 64,
    seed: int = 0,
    threads: int | None = None,
    precision: str = "auto",  # "auto": bf16 only where the CPU computes it natively (model.precision)
) -> dict:
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    precision = resolve_precision(precision, torch.device("cpu"))
    # 1. data: the train split to fit, the test split to report per-attribute balanced accuracy
    train_set = load_dataset(data, split="train")
    test_set = load_dataset(data, split="test", limit=4000)
    labels = train_set.attributes.float()
    # positives are rare for many attributes: weight them so the oracle's errors are balanced
    positive_weight = ((1 - labels.mean(0)) / labels.mean(0).clamp(min=1e-3)).clamp(max=20)
    oracle = Oracle(labels.shape[1])
    optimizer = torch.optim.AdamW(oracle.parameters(), lr=2e-3, weight_decay=1e-4)
    # 2. train for the time budget, one shuffled pass after another
    started, step = time.perf_counter(), 0
    while time.perf_counter() - started < minutes * 60:
        for batch in torch.randperm(len(train_set)).split(batch_size):
            images = train_set.float_images(batch)
            images = torch.where(torch.rand(len(images), 1, 1, 1) < 0.5, images.flip(3), images)
            with autocast(torch.device("cpu"), precision):
                logits = oracle(images)
            loss = F.binary_cross_entropy_with_logits(logits.float(), labels[batch], pos_weight=positive_weight)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if time.perf_counter() - started >= minutes * 60:
                break
    oracle.eval()
    # 3. measure and save
    accuracy = balanced_accuracies(predict(oracle, test_set.float_images(slice(None))), test_set.attributes.long())
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in oracle.state_dict().items()}, str(out / "oracle.safetensors"))
    info = {
        "attributes": train_set.attribute_names,
        "width": 32,
        "steps": step,
        "minutes": round((time.perf_counter() - started) / 60, 1),
        "precision": precision,
        "train_images": len(train_set),
        "test_images": len(test_set),
        "test_balanced_accuracy": {name: round(float(a), 4) for name, a in zip(train_set.attribute_names, accuracy)},
        "test_balanced_accuracy_mean": round(float(accuracy.mean()), 4),
        "terms": "Trained on CelebA: non-commercial research and educational use only.",
    }
    (out / "oracle.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.oracle", description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--threads", type=int)
    parser.add_argument(
        "--precision", choices=PRECISIONS, default="auto", help="auto: bf16 only where the CPU computes it natively"
    )
    args = parser.parse_args()
    info = train(args.data, Path(args.out), args.minutes, threads=args.threads, precision=args.precision)
    print(json.dumps({k: info[k] for k in ("steps", "minutes", "test_balanced_accuracy_mean")}))
    print(json.dumps(info["test_balanced_accuracy"]))


if __name__ == "__main__":
    main()
