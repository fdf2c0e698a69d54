"""Measure few-shot edits and conditional generation with the independent oracle (eval/oracle.py).

    python -m pipelines.evaluate_conditions --checkpoint checkpoints/celeba64 --data ../shared/data/celeba64 \
        --oracle checkpoints/oracle-celeba64 --json conditions.json --grids docs/figures

Edits: test images that lack the attribute are edited towards it with each built-in's tuned defaults, by
(a) the paper's procedure, (b) the fast linear mode, (c) a linear shift with no diffusion correction.
The edit is judged as the service delivers it: the source photo plus the decoded change,
photo + decode(z_edit) - decode(z), so that detail the autoencoder cannot reproduce is kept.
success = the oracle sees the attribute after the edit; preservation = oracle agreement on the other 39
attributes between the source photo and the edit; psnr_db = edit vs source photo. The *_decoded keys
judge the plain decoded edit instead.
Generation: Algorithm 1 by rejection sampling; the oracle's positive rate against the train-split base rate
and against unconditional prior samples ("naive", paper Table 5).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from model.attributes import AttributeClassifier, builtin_directory
from model.checkpoint import load_model
from model.data import load_dataset
from model.images import save_grid
from model.manipulation import default_settings, manipulate, rejection_sample
from pipelines.builtins import BUILTINS, PU_BUILTINS
from pipelines.oracle import load_oracle, predict

MODES = ("paper", "fast", "no_correction")


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return -10 * torch.log10((a - b).pow(2).flatten(1).mean(dim=1).clamp(min=1e-10))


@torch.no_grad()
def evaluate_edits(
    model, oracle, names, test, classifier, column: str, count: int, batch: int, seed: int, grids: Path | None
) -> dict:
    generator = torch.Generator().manual_seed(seed)
    candidates = torch.nonzero(test.attribute(column) == 0).flatten()
    chosen = candidates[torch.randperm(len(candidates), generator=generator)[:count]]
    index = names.index(column)
    others = [i for i in range(len(names)) if i != index]
    settings = default_settings([(classifier, True)])
    keys = ("success", "preservation", "psnr_db", "success_decoded", "preservation_decoded", "psnr_db_decoded")
    totals = {mode: {key: [] for key in keys} for mode in MODES}
    preview = {}
    for start in range(0, len(chosen), batch):
        images = test.float_images(chosen[start : start + batch])
        latents = model.encode(images)
        before, reconstruction = predict(oracle, images), model.decode(latents)
        for mode in MODES:
            decoded = model.decode(
                manipulate(model, latents, [(classifier, True)], settings, mode=mode, seed=seed + start)
            )
            delivered = (images + decoded - reconstruction).clamp(0, 1)
            for suffix, edited in (("", delivered), ("_decoded", decoded)):
                after = predict(oracle, edited)
                totals[mode]["success" + suffix].append(after[:, index].float())
                totals[mode]["preservation" + suffix].append(
                    (after[:, others] == before[:, others]).float().mean(dim=1)
                )
                totals[mode]["psnr_db" + suffix].append(psnr(edited, images))
            if start == 0:
                preview[mode] = delivered[:8]
        if start == 0:
            preview = {"source": images[:8], "reconstruction": reconstruction[:8], **preview}
    if grids is not None:
        save_grid(torch.cat(list(preview.values())), grids / f"edit_{classifier.name}.png", columns=8)
    result = {
        mode: {key: round(float(torch.cat(values).mean()), 4) for key, values in metrics.items()}
        for mode, metrics in totals.items()
    }
    result["images"], result["strength"] = len(chosen), settings.strength
    return result


@torch.no_grad()
def evaluate_generation(
    model,
    oracle,
    names,
    train_labels,
    classifier,
    column: str,
    count: int,
    naive: torch.Tensor,
    grids: Path | None,
    seed: int,
) -> dict:
    index = names.index(column)
    result = rejection_sample(model, [(classifier, True)], count=count, budget=40 * count, seed=seed)
    images = model.decode(result.latents)
    if grids is not None:
        save_grid(images[:32], grids / f"generated_{classifier.name}.png", columns=8)
    return {
        "kind": classifier.kind,
        "samples": len(result.latents),
        "drawn": result.drawn,
        "positive_rate": round(float(predict(oracle, images)[:, index].float().mean()), 4),
        "base_rate": round(float(train_labels.attribute(column).float().mean()), 4),
        "naive_positive_rate": round(float(naive[:, index].float().mean()), 4),
        "acceptance": round(result.acceptance, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.evaluate_conditions", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--oracle", default="checkpoints/oracle-celeba64")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--grids", help="folder for before/after and generated grids")
    parser.add_argument("--images", type=int, default=500, help="test images edited per attribute")
    parser.add_argument("--generate", type=int, default=200, help="accepted samples per generation condition")
    parser.add_argument("--attributes", nargs="*", help="edit only these built-ins")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    grids = Path(args.grids) if args.grids else None
    if grids:
        grids.mkdir(parents=True, exist_ok=True)
    model = load_model(args.checkpoint)
    oracle, names = load_oracle(args.oracle)
    test = load_dataset(args.data, split="test", resolution=model.config.resolution)
    train_labels = load_dataset(args.data, split="train", resolution=model.config.resolution, labels_only=True)
    directory = builtin_directory(args.checkpoint)
    report = {"edit": {}, "generation": {}}
    for name in args.attributes or list(BUILTINS):
        classifier = AttributeClassifier.load(directory, name)
        report["edit"][name] = evaluate_edits(
            model, oracle, names, test, classifier, BUILTINS[name], args.images, args.batch, args.seed, grids
        )
        print(name, json.dumps(report["edit"][name]), flush=True)
    naive_latents = model.sample(args.generate, steps=50, generator=torch.Generator().manual_seed(args.seed))
    naive = predict(oracle, model.decode(naive_latents))
    if grids:
        save_grid(model.decode(naive_latents[:32]), grids / "generated_unconditional.png", columns=8)
    for name, column in {"blond": "Blond_Hair", **PU_BUILTINS, "male": "Male", "smiling": "Smiling"}.items():
        classifier = AttributeClassifier.load(directory, name)
        report["generation"][name] = evaluate_generation(
            model, oracle, names, train_labels, classifier, column, args.generate, naive, grids, args.seed
        )
        print(name, json.dumps(report["generation"][name]), flush=True)
    report["seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(report, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
