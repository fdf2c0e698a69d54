"""Reconstruction, few-shot linear probe, generation quality and prior-hole grids for a D2C checkpoint.

python -m pipelines.evaluate --checkpoint checkpoints/celeba64 --data ../shared/data/celeba64 --json eval.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from PIL import Image

from model.attributes import fit_binary
from model.checkpoint import HEAD_FILE, load_model, update_card
from model.d2c import D2C, SAMPLE_ETA, SAMPLE_STEPS, encode_all
from model.data import load_dataset
from model.fewshot import select_examples
from model.images import grid
from model.teacher import Teacher, load_teacher
from pipelines.builtins import encode_pool
from pipelines.oracle import Oracle, embed, frechet_distance, load_oracle, predict

PROBE_ATTRIBUTES = ("Blond_Hair", "Male", "Wearing_Lipstick", "Smiling", "Eyeglasses")


@torch.no_grad()
def reconstruction_metrics(
    model: D2C, images_uint8: torch.Tensor, latents: torch.Tensor, batch_size: int = 128
) -> dict[str, float]:
    """Mean per-image PSNR (dB) with its standard error over the images, and squared error summed over pixels in
    [0, 1] (the paper's Table 2 MSE unit)."""
    psnr, sse = [], []
    for start in range(0, len(images_uint8), batch_size):
        images = images_uint8[start : start + batch_size].float().to(model.device) / 255
        error = (model.decode(latents[start : start + batch_size]) - images).pow(2).flatten(1)
        sse.append(error.sum(dim=1))
        psnr.append(-10 * torch.log10(error.mean(dim=1).clamp(min=1e-10)))
    psnr = torch.cat(psnr).double()
    return {
        "recon_psnr_db": float(psnr.mean()),
        "recon_psnr_se": float(psnr.std() / len(psnr) ** 0.5) if len(psnr) > 1 else 0.0,
        "recon_mse_sum": float(torch.cat(sse).mean()),
    }


def balanced_accuracy(predicted: torch.Tensor, truth: torch.Tensor) -> float:
    recalls = [(predicted[truth == value] == value).float().mean() for value in (0, 1) if (truth == value).any()]
    return float(torch.stack(recalls).mean())


def linear_probe(
    model: D2C,
    data: str | Path,
    test_latents: torch.Tensor,
    test_labels,
    draws: int = 5,
    attributes: tuple[str, ...] = PROBE_ATTRIBUTES,
    shots: int = 50,
    teacher: Teacher | None = None,
) -> dict:
    """100-shot probe: 50 + 50 train-split examples per attribute, logistic regression, scored on the test latents.

    The classifier is fitted as the built-ins are: on the examples and their mirror images, and, for a checkpoint
    with a teacher head, on its features and distilled on the unlabeled pool (model/teacher.py). Which 100
    examples are drawn moves the score more than a few epochs of training do, so the probe repeats over `draws`
    example sets (seeds 0, 1, ...): "probe" is each attribute's mean over them, "probe_draws" each draw's mean over the
    attributes. Two checkpoints measured with the same draws are compared draw by draw (`pipelines.ship`).
    """
    train_labels = load_dataset(data, split="train", resolution=model.config.resolution, labels_only=True)
    scores = {attribute: [] for attribute in attributes}
    for seed in range(draws):
        for attribute in attributes:
            positive_ids, negative_ids = select_examples(
                train_labels, attribute, positives=shots, negatives=shots, seed=seed
            )
            examples = load_dataset(
                data, split="train", resolution=model.config.resolution, ids=set(positive_ids + negative_ids)
            )
            latents, mirrors = encode_all(model, examples.images), encode_all(model, examples.images.flip(-1))
            labels = examples.attribute(attribute)
            classifier = fit_binary(
                attribute.lower(),
                latents[labels == 1],
                latents[labels == 0],
                seed=seed,
                mirrors=(mirrors[labels == 1], mirrors[labels == 0]),
                teacher=teacher,
            )
            predicted = (classifier.logit(test_latents) > 0).long().cpu()
            scores[attribute].append(balanced_accuracy(predicted, test_labels(attribute).long()))
    return {
        "probe": {attribute: round(sum(values) / draws, 4) for attribute, values in scores.items()},
        "probe_draws": [
            round(sum(values[seed] for values in scores.values()) / len(attributes), 4) for seed in range(draws)
        ],
    }


@torch.no_grad()
def generation_metrics(
    model: D2C,
    oracle: Oracle,
    images_uint8: torch.Tensor,
    count: int = 2000,
    steps: int = SAMPLE_STEPS,
    draws: int = 3,
    batch_size: int = 250,
    eta: float = SAMPLE_ETA,
) -> dict:
    """Frechet distances in the oracle's penultimate features to `count` real images (set A): for `count` prior
    samples (`generation_fd`, the mean over `draws` noise draws, seeds 0, 1, ..., each in "generation_fd_draws"),
    reconstructions of other real images (set B) and set B itself (the floor); and how far the oracle's attribute
    rates on the first draw's samples are from its rates on set A. The real sets are the same for every draw (and
    every checkpoint), so the draws measure the sampling noise alone. "generation_sampler" names the sampler, since
figures from different samplers cannot be compared."""
    if draws < 1:
        raise ValueError(f"generation_fd needs at least one noise draw, got {draws}")
    order = torch.randperm(len(images_uint8), generator=torch.Generator().manual_seed(0))
    count = min(count, len(images_uint8) // 2)
    real_a = images_uint8[order[:count]].float() / 255
    real_b = images_uint8[order[count : 2 * count]].float() / 255
    reference = embed(oracle, real_a)
    distances = []
    for seed in range(draws):
        generator = torch.Generator(device=model.device).manual_seed(seed)
        samples = torch.cat(
            [
                model.decode(
                    model.sample(min(batch_size, count - start), steps=steps, generator=generator, eta=eta)
                ).cpu()
                for start in range(0, count, batch_size)
            ]
        )
        distances.append(frechet_distance(embed(oracle, samples), reference))
        if seed == 0:
            sample_rates = predict(oracle, samples).double().mean(dim=0)
    reconstructions = torch.cat(
        [model.decode(model.encode(real_b[start : start + batch_size])).cpu() for start in range(0, count, batch_size)]
    )
    data_rates = predict(oracle, real_a).double().mean(dim=0)
    return {
        "generation_fd": sum(distances) / draws,
        "generation_fd_draws": distances,
        "generation_sampler": {"steps": steps, "eta": eta},
        "reconstruction_fd": frechet_distance(embed(oracle, reconstructions), reference),
        "real_fd": frechet_distance(embed(oracle, real_b), reference),
        "fd_images": count,
        "sample_attribute_rate_gap": round(float((sample_rates - data_rates).abs().mean()), 4),
    }


@torch.no_grad()
def prior_hole_grid(model: D2C, out: Path, count: int = 32, steps: int = SAMPLE_STEPS, seed: int = 0) -> None:
    """Samples from the diffusion prior beside N(0, I) latents decoded directly (paper Sec. 4.2)."""
    generator = torch.Generator(device=model.device).manual_seed(seed)
    from_prior = model.decode(model.sample(count, steps=steps, generator=generator))
    from_gaussian = model.decode(
        torch.randn((count, *model.config.latent_shape), generator=generator, device=model.device)
    )
    left, right = grid(from_prior, 4), grid(from_gaussian, 4)
    canvas = Image.new("RGB", (left.width * 2 + 16, left.height), "white")
    canvas.paste(left, (0, 0))
    canvas.paste(right, (left.width + 16, 0))
    canvas.save(out / "prior_vs_gaussian.png")


def evaluate(
    checkpoint: str | Path,
    data: str | Path,
    split: str = "test",
    limit: int | None = None,
    device: str = "cpu",
    grids: Path | None = None,
    probe_attributes: tuple[str, ...] = PROBE_ATTRIBUTES,
    shots: int = 50,
    oracle: str | Path | None = None,
    generated: int = 2000,
    probe_draws: int = 5,
    generation_draws: int = 3,
) -> dict:
    started = time.perf_counter()
    model = load_model(checkpoint, device)
    dataset = load_dataset(data, split=split, resolution=model.config.resolution, limit=limit)
    latents = encode_all(model, dataset.images)
    metrics = {"split": split, "images": len(dataset), **reconstruction_metrics(model, dataset.images, latents)}
    if dataset.attributes is not None:
        teacher = None
        if (Path(checkpoint) / HEAD_FILE).is_file():  # the probe fits as the product does: with the teacher
            teacher = load_teacher(checkpoint, encode_pool(model, data))
        metrics.update(
            linear_probe(
                model, data, latents, dataset.attribute, draws=probe_draws, attributes=probe_attributes, shots=shots,
                teacher=teacher,
            )
        )
        metrics["probe_teacher"] = teacher is not None
        metrics["probe_mean"] = round(sum(metrics["probe_draws"]) / len(metrics["probe_draws"]), 4)
    if oracle is not None:
        metrics.update(
            generation_metrics(
                model, load_oracle(oracle, device)[0], dataset.images, count=generated, draws=generation_draws
            )
        )
    if grids is not None:
        grids.mkdir(parents=True, exist_ok=True)
        prior_hole_grid(model, grids)
    metrics["recon_psnr_db"] = round(metrics["recon_psnr_db"], 3)
    metrics["recon_psnr_se"] = round(metrics["recon_psnr_se"], 4)
    metrics["recon_mse_sum"] = round(metrics["recon_mse_sum"], 3)
    metrics["seconds"] = round(time.perf_counter() - started, 1)
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.evaluate", description="Evaluate a D2C checkpoint")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--json", help="write the metrics here")
    parser.add_argument("--limit", type=int, help="evaluate on the first N images only")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--grids", help="folder for the prior-vs-N(0, I) sample grid (default: none)")
    parser.add_argument("--oracle", default="checkpoints/oracle-celeba64", help="oracle for generation_fd ('' to skip)")
    parser.add_argument("--generated", type=int, default=2000, help="prior samples (and real images) for generation_fd")
    parser.add_argument("--probe-draws", type=int, default=5, help="example sets the probe repeats over")
    parser.add_argument("--generation-draws", type=int, default=3, help="noise draws generation_fd averages over")
    parser.add_argument("--update-card", action="store_true", help="record the metrics in the checkpoint's card")
    args = parser.parse_args(argv)
    metrics = evaluate(
        args.checkpoint,
        args.data,
        args.split,
        args.limit,
        args.device,
        Path(args.grids) if args.grids else None,
        oracle=args.oracle or None,
        generated=args.generated,
        probe_draws=args.probe_draws,
        generation_draws=args.generation_draws,
    )
    text = json.dumps(metrics, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    if args.update_card:
        update_card(args.checkpoint, metrics=metrics)


if __name__ == "__main__":
    main()
