"""Build the built-in attributes shipped beside a checkpoint, each fitted from 100 train-split examples only.

    python -m pipelines.builtins --checkpoint checkpoints/celeba64 --data ../shared/data/celeba64

Writes <checkpoint>/attributes/{name}.safetensors + .json (with the manifest of image ids used and the tuned
manipulation defaults) and <checkpoint>/unlabeled_latents.safetensors, the pool PU attributes are fitted against.
With an oracle (`--oracle`, '' to skip), each direction's strength and the attribute's region cut are then
calibrated on other labelled train faces (pipelines.calibration).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import torch

from model.attributes import (
    REGION_THRESHOLD,
    builtin_directory,
    fit_binary,
    fit_pu,
    latent_covariance,
    save_skin_readout,
    save_unlabeled_pool,
    skin_readout,
    with_labels_held,
    with_region,
)
from model.checkpoint import load_model, update_card
from model.d2c import D2C, decode_all, encode_all
from model.data import FaceDataset, load_dataset
from model.fewshot import select_examples
from model.manipulation import ManipulationSettings, edit_plan, tune_strength, tuned_metadata
from model.teacher import load_teacher
from pipelines.calibration import (
    CALIBRATION_IMAGES,
    REGION_THRESHOLDS,
    calibrate_strength,
    kept_success,
    oracle_judge,
)
from pipelines.oracle import load_oracle

BUILTINS = {
    "blond": "Blond_Hair",
    "red_lipstick": "Wearing_Lipstick",
    "smiling": "Smiling",
    "male": "Male",
    "eyeglasses": "Eyeglasses",
}
PU_BUILTINS = {"blond_pu": "Blond_Hair"}
# built-ins that edit along their examples' class means with the correlated labels held (with_labels_held), not the
# pool's: on 200 train faces each (docs/experiments.md, session 27) only eyeglasses gained (0.69 -> 0.74 success at
# preservation 0.88); a smile's and a lipstick's correlates are what they are made of, male lost, blond was level
LABELS_HELD = {"eyeglasses"}
# labels that correlate with a built-in's own by this much among its examples are held: eyeglasses' 100 examples
# tie it to 20 others (Male 0.43, Young -0.48, Heavy_Makeup -0.52, ...)
HELD_CORRELATION = 0.2


def correlated_labels(examples: FaceDataset, column: str, threshold: float = HELD_CORRELATION) -> list[str]:
    """The other labels whose correlation with `column` among the examples is at least `threshold` in size: what a
    direction drawn from them carries along with the attribute."""
    labels = examples.attributes.float()
    correlation = torch.nan_to_num(torch.corrcoef(labels.t())[examples.attribute_names.index(column)])
    return [
        name
        for name, value in zip(examples.attribute_names, correlation.tolist())
        if name != column and abs(value) >= threshold
    ]


def encode_pool(
    model: D2C, data: str | Path, size: int = 3000, generator: torch.Generator | None = None
) -> torch.Tensor:
    """The unlabeled pool: the latents of `size` random train-split images (in the dataset's order); the default
    generator (seed 0) draws the pool `build` ships."""
    generator = generator or torch.Generator().manual_seed(0)
    labels = load_dataset(data, split="train", resolution=model.config.resolution, labels_only=True)
    ids = {labels.ids[int(i)] for i in torch.randperm(len(labels), generator=generator)[:size]}
    return encode_all(model, load_dataset(data, split="train", resolution=model.config.resolution, ids=ids).images)


def build(
    checkpoint: str | Path,
    data: str | Path,
    pool_size: int = 3000,
    seed: int = 0,
    tune_images: int = 64,
    readout_size: int = 1500,  # pool latents decoded to fit the skin-colour readout
    oracle: str | Path | None = None,
    calibration_images: int = CALIBRATION_IMAGES,
) -> dict:
    checkpoint = Path(checkpoint)
    model = load_model(checkpoint)
    judge_model, attribute_names = load_oracle(oracle) if oracle is not None else (None, [])
    labels = load_dataset(data, split="train", resolution=model.config.resolution, labels_only=True)
    generator = torch.Generator().manual_seed(seed)
    # 1. the unlabeled pool: random train images, encoded once
    pool = encode_pool(model, data, pool_size, generator)
    save_unlabeled_pool(checkpoint, pool)
    teacher = load_teacher(checkpoint, pool)  # None for a checkpoint without the MoCo head: plain fits
    covariance = latent_covariance(pool)  # edit directions Sigma w (see AttributeClassifier.edit_direction)
    # edits hold the decoded skin colour (measured: blond's cheek shift fell from 17 to 7 of 255 levels)
    readout_latents = pool[:readout_size]
    held = skin_readout(decode_all(model, readout_latents), readout_latents)
    save_skin_readout(checkpoint, held)
    created = datetime.now(UTC).isoformat(timespec="seconds")
    summary, base = {}, ManipulationSettings()
    for name, column in {**BUILTINS, **PU_BUILTINS}.items():
        # 2. 50 positives + 50 negatives (binary) or 100 positives (PU), drawn from the train split with a fixed seed
        positive_ids, negative_ids = select_examples(
            labels,
            column,
            positives=100 if name in PU_BUILTINS else 50,
            negatives=0 if name in PU_BUILTINS else 50,
            seed=seed,
        )
        examples = load_dataset(
            data, split="train", resolution=model.config.resolution, ids=set(positive_ids + negative_ids)
        )
        latents, mirrors = encode_all(model, examples.images), encode_all(model, examples.images.flip(-1))
        is_positive = torch.tensor([i in set(positive_ids) for i in examples.ids])
        if name in PU_BUILTINS:
            classifier = fit_pu(
                name, latents[is_positive], pool, seed=seed, covariance=covariance, held=held, teacher=teacher
            )
        else:
            classifier = fit_binary(
                name,
                latents[is_positive],
                latents[~is_positive],
                seed=seed,
                covariance=covariance,
                held=held,
                mirrors=(mirrors[is_positive], mirrors[~is_positive]),
                pool=pool,
                teacher=teacher,
            )
        if name in LABELS_HELD:  # what the examples' other labels explain is left out of the edit direction
            held_labels = correlated_labels(examples, column)
            covariates = torch.stack([examples.attribute(label) for label in held_labels], dim=1)
            classifier = with_labels_held(
                classifier,
                torch.cat([latents, mirrors]),
                examples.attribute(column).repeat(2),
                covariates.repeat(2, 1),
                covariance,
                pool,
                held,
            )
            classifier.metadata["held_labels"] = held_labels
        # 3. the faces each direction is tuned on (other train images that lack the attribute for adding, that have
        # it for removing) and, after them, the faces the oracle calibrates it on, which neither the fit nor the
        # tuning saw
        used = set(positive_ids + negative_ids)
        tuning_latents, calibration_ids = [], []
        for target in (True, False):
            candidates = [
                labels.ids[i]
                for i in torch.nonzero(labels.attribute(column) == int(not target)).flatten().tolist()
                if labels.ids[i] not in used
            ]
            order = torch.randperm(len(candidates), generator=generator)
            chosen = {candidates[int(i)] for i in order[:tune_images]}
            tuning_latents.append(encode_all(
                model, load_dataset(data, split="train", resolution=model.config.resolution, ids=chosen).images
            ))
            calibration_ids.append({candidates[int(i)] for i in order[tune_images : tune_images + calibration_images]})
        calibration_images_of = [
            load_dataset(data, split="train", resolution=model.config.resolution, ids=ids).float_images(slice(None))
            for ids in calibration_ids
        ] if judge_model is not None else []
        typical = float(classifier.logit(latents[is_positive]).median())
        # where each direction edits and the score it aims at: the examples' own (the pool's for positives only)
        negatives = pool[classifier.logit(pool) < 0] if name in PU_BUILTINS else latents[~is_positive]
        manifest = {"split": "train", "seed": seed, "positive_ids": positive_ids, "negative_ids": negative_ids}

        # 4. per region cut: plan and tune both directions; with the oracle, calibrate them and keep the cut whose
        # directions reach the most success at the floor (without it, the default cut the fit made)
        best, best_score, scores = None, -1.0, {}
        for threshold in REGION_THRESHOLDS if judge_model is not None else (REGION_THRESHOLD,):
            candidate = with_region(classifier, pool, threshold)
            local, targets = edit_plan(candidate, latents[is_positive], negatives)
            directions = [
                (*tune_strength(model, candidate, tuning, target_logit, replace(base, local=edit_locally),
                                target=target), len(tuning))
                for target, edit_locally, target_logit, tuning in zip((True, False), local, targets, tuning_latents)
            ]
            candidate.metadata.update(
                version=1,
                created_at=created,
                builtin=True,
                source_attribute=column,
                **tuned_metadata(base, typical, *directions, targets=targets, local=local),
                manifest=manifest,
            )
            score = 0.0
            if judge_model is not None:
                # the oracle may raise each direction's strength while the edit keeps the other attributes
                calibration = {"images": calibration_images}
                for target, key, images in zip((True, False), ("defaults", "remove_defaults"), calibration_images_of):
                    settings = ManipulationSettings(**candidate.metadata[key])
                    judge = oracle_judge(model, judge_model, attribute_names.index(column), images, candidate,
                                         target, settings, seed=seed)
                    strength, trail = calibrate_strength(judge, settings.strength)
                    candidate.metadata[key]["strength"] = strength
                    calibration["add" if target else "remove"] = trail
                    score += kept_success(trail, strength)
                candidate.metadata["calibration"] = calibration
            scores[threshold] = round(score, 4)
            if score > best_score:
                best, best_score = candidate, score
        classifier = best
        if judge_model is not None:
            classifier.metadata["calibration"]["regions"] = scores  # summed success at the floor, per cut
        classifier.save(builtin_directory(checkpoint))
        summary[name] = {
            key: classifier.metadata.get(key)
            for key in ("kind", "positives", "negatives", "cv_accuracy", "class_prior")
        }
        summary[name].update(
            kind=classifier.kind,
            strength=classifier.metadata["defaults"]["strength"],
            remove_strength=classifier.metadata["remove_defaults"]["strength"],
            region_cells=classifier.metadata.get("region", {}).get("cells"),
        )
        print(f"{name}: {json.dumps(summary[name])}", flush=True)
    update_card(checkpoint, attributes=summary)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m pipelines.builtins", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--pool-size", type=int, default=3000)
    parser.add_argument("--oracle", default="checkpoints/oracle-celeba64",
                        help="oracle that calibrates each direction's strength ('' to skip)")
    args = parser.parse_args()
    started = time.perf_counter()
    print(json.dumps(build(args.checkpoint, args.data, args.pool_size, oracle=args.oracle or None), indent=2))
    print(f"built in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
