"""Measure few-shot edits and conditional generation with the independent oracle and dlib's face embedding.

    python -m pipelines.evaluate_conditions --checkpoint checkpoints/celeba64 --data ../shared/data/celeba64 \
        --oracle checkpoints/oracle-celeba64 --json conditions.json --grids docs/figures

Edits, per attribute and direction: test images that lack the attribute are edited to add it ("add"), images
that have it to remove it ("remove"), with the attribute's tuned defaults, by the paper's procedure (or the
modes asked), exactly as the workers do (`model.manipulation.edit_images`: a face that already meets the
condition with margin is kept as it is). The edit is judged as the service delivers it: the source photo plus
the decoded change where it changed, photo + mask * (decode(z_edit) - decode(z)) with the workers' change mask
(faces.mask), so detail the autoencoder cannot reproduce is kept.
success = the oracle sees the asked state after the edit; preservation = oracle agreement on the other 39
attributes between the source and the edit; same_person = dlib's 128-D embeddings of the source and the edit
(64-px faces upscaled 4x, landmarks found on the source) lie under 0.6 apart, its usual threshold, over the
faces dlib finds; psnr_db = edit vs source. `curve` repeats success and preservation at other strengths.
Three CelebA attributes that are not built-ins are defined the way users do, through POST /attributes to a
`make run` stack started here, from 50 + 50 train images, and one from 100 positives only (PU), and evaluated
the same way.
Generation: Algorithm 1 by rejection sampling; the oracle's positive rate against the train-split base rate
and against unconditional prior samples ("naive", paper Table 5).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from faces.identity import SAME_PERSON, FaceEmbedder
from model.attributes import AttributeClassifier, builtin_directory
from model.checkpoint import load_model
from model.data import FaceDataset, load_dataset
from model.fewshot import select_examples
from model.images import save_grid, to_uint8
from model.manipulation import default_settings, edit_images, rejection_sample
from pipelines.builtins import BUILTINS, PU_BUILTINS
from pipelines.calibration import delivered
from pipelines.oracle import load_oracle, predict
from pipelines.service_attributes import define, fitted_classifier, local_service, png

MODES = ("paper", "fast", "no_correction")
DIRECTIONS = {"add": True, "remove": False}
CURVE = (0.5, 1.0, 2.0)  # strength multipliers on the tuned defaults
USER_ATTRIBUTES = ("Wavy_Hair", "Mustache", "Rosy_Cheeks")  # CelebA labels that are not built-ins
POSITIVES_ONLY = ("Wavy_Hair",)  # also defined from 100 positives and no negatives (PU)
# what a definition through POST /attributes recorded that the report keeps: fit, framing, tuning, where edits act
DEFINITION_KEYS = ("cv_accuracy", "examples", "tuning", "region", "defaults", "remove_defaults")
IDENTITY_UPSCALE = 4  # dlib's detector and embedding want faces larger than 64 px


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return -10 * torch.log10((a - b).pow(2).flatten(1).mean(dim=1).clamp(min=1e-10))


class IdentityJudge:
    """Whether an edited face is still the same person, by dlib's face embedding on the upscaled face."""

    def __init__(self):
        self.embedder = FaceEmbedder()

    def _upscaled(self, images: torch.Tensor) -> list[np.ndarray]:
        side = images.shape[-1] * IDENTITY_UPSCALE
        return [cv2.resize(image, (side, side), interpolation=cv2.INTER_CUBIC) for image in to_uint8(images)]

    def distances(self, sources: torch.Tensor, edits: torch.Tensor) -> np.ndarray:
        """(N,) embedding distance of each edit to its source; NaN where dlib finds no face in the source."""
        result = np.full(len(sources), np.nan)
        for index, (source, edit) in enumerate(zip(self._upscaled(sources), self._upscaled(edits))):
            found = self.embedder.finder.find(source)
            if found:
                result[index] = self.embedder.identity_distance(source, edit, found[0])
        return result


def _mean(values: list[torch.Tensor]) -> float:
    return round(float(torch.cat(values).float().mean()), 4)


@torch.no_grad()
def evaluate_edits(
    model, oracle, names: list[str], test: FaceDataset, classifier: AttributeClassifier, column: str, target: bool,
    count: int, batch: int, seed: int, judge: IdentityJudge | None, modes=("paper",), grids: Path | None = None,
    curve: bool = True,
) -> dict:
    """One row: up to `count` test faces whose label is not `target`, edited towards it (and, with `curve`, at the
    other CURVE multipliers of the tuned strength)."""
    generator = torch.Generator().manual_seed(seed)
    candidates = torch.nonzero(test.attribute(column) == int(not target)).flatten()
    chosen = candidates[torch.randperm(len(candidates), generator=generator)[:count]]
    index = names.index(column)
    others = [i for i in range(len(names)) if i != index]
    conditions = [(classifier, target)]
    runs = [(mode, 1.0) for mode in modes] + [("paper", m) for m in CURVE if m != 1.0 and curve]
    totals = {run: {} for run in runs}
    preview = {}
    for start in range(0, len(chosen), batch):
        images = test.float_images(chosen[start : start + batch])
        before = predict(oracle, images)
        for mode, multiplier in runs:
            settings = default_settings(conditions, multiplier)
            reference, decoded, kept = edit_images(model, images, conditions, settings, mode=mode,
                                                   seed=seed + start)
            result = delivered(images, reference, decoded)
            after = predict(oracle, result)
            metrics = totals[mode, multiplier]
            metrics.setdefault("success", []).append((after[:, index] == target).float())
            metrics.setdefault("preservation", []).append((after[:, others] == before[:, others]).float().mean(1))
            metrics.setdefault("psnr_db", []).append(psnr(result, images))
            metrics.setdefault("kept", []).append(kept.float())
            if judge is not None and multiplier == 1.0:
                metrics.setdefault("identity", []).append(torch.from_numpy(judge.distances(images, result)))
            if start == 0 and multiplier == 1.0:
                preview[mode] = result[:8]
        if start == 0:
            preview = {"source": images[:8], **preview}
    if grids is not None:
        direction = "add" if target else "remove"
        save_grid(torch.cat(list(preview.values())), grids / f"edit_{classifier.name}_{direction}.png", columns=8)
    result: dict = {"images": len(chosen), "strength": default_settings(conditions).strength}
    for (mode, multiplier), metrics in totals.items():
        summary = {key: _mean(metrics[key]) for key in ("success", "preservation", "psnr_db", "kept")}
        if "identity" in metrics:
            distances = torch.cat(metrics["identity"])
            found = distances[~distances.isnan()]
            summary.update(identity_distance=round(float(found.mean()), 4) if len(found) else None,
                           same_person=round(float((found < SAME_PERSON).float().mean()), 4) if len(found) else None,
                           identity_faces=len(found))
        if multiplier == 1.0:
            result[mode] = summary
        else:
            result.setdefault("curve", []).append({"multiplier": multiplier, **summary})
    result["curve"] = sorted([*result.get("curve", []), {"multiplier": 1.0, **result["paper"]}],
                             key=lambda point: point["multiplier"]) if "paper" in result else result.get("curve", [])
    return result


def evaluate_attribute(model, oracle, names, test, classifier, column, args, judge, grids) -> dict:
    """Both directions of one attribute."""
    return {
        direction: evaluate_edits(model, oracle, names, test, classifier, column, target, args.images, args.batch,
                                  args.seed, judge, tuple(args.modes), grids)
        for direction, target in DIRECTIONS.items()
    }


def user_attributes(model, oracle, names, test, args, judge, grids) -> dict:
    """The USER_ATTRIBUTES defined through POST /attributes from 50 + 50 train images each, and the
    POSITIVES_ONLY ones from 100 positives (a PU attribute, reported as "<label> (positives only)"), evaluated."""
    train = load_dataset(args.data, split="train", resolution=model.config.resolution, labels_only=True)
    definitions = [(column, 50) for column in args.user_attributes] + [(column, 0) for column in args.positives_only]
    report = {}
    with local_service(args.checkpoint) as (url, redis_url):
        for column, negatives in definitions:
            positive_ids, negative_ids = select_examples(
                train, column, positives=100 - negatives, negatives=negatives, seed=args.seed
            )
            examples = load_dataset(args.data, split="train", resolution=model.config.resolution,
                                    ids=set(positive_ids + negative_ids))
            photos = examples.images.permute(0, 2, 3, 1).numpy()  # N x H x W x 3 uint8, as files hold them
            pixels = {image_id: png(image) for image_id, image in zip(examples.ids, photos)}
            name = column.lower() if negatives else f"{column.lower()}_pu"
            record = define(url, name, [pixels[i] for i in positive_ids], [pixels[i] for i in negative_ids])
            classifier = fitted_classifier(redis_url, name)
            label = column if negatives else f"{column} (positives only)"
            report[label] = {
                "definition": {key: record["metadata"].get(key) for key in DEFINITION_KEYS}
                | {"define_to_ready_seconds": record["define_to_ready_seconds"]},
                **evaluate_attribute(model, oracle, names, test, classifier, column, args, judge, grids),
            }
            print(label, json.dumps(report[label]), flush=True)
    return report


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
    if grids is not None:
        save_grid(result.images[:32], grids / f"generated_{classifier.name}.png", columns=8)
    return {
        "kind": classifier.kind,
        "samples": len(result.latents),
        "drawn": result.drawn,
        "positive_rate": round(float(predict(oracle, result.images)[:, index].float().mean()), 4),
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
    parser.add_argument("--images", type=int, default=500, help="test images edited per attribute and direction")
    parser.add_argument("--generate", type=int, default=200, help="accepted samples per generation condition (0: none)")
    parser.add_argument("--attributes", nargs="*", help="edit only these built-ins (default: all, PU ones too)")
    parser.add_argument("--user-attributes", nargs="*", default=list(USER_ATTRIBUTES),
                        help="CelebA labels to define through POST /attributes and evaluate (none: skip)")
    parser.add_argument("--positives-only", nargs="*", default=list(POSITIVES_ONLY),
                        help="CelebA labels to define from 100 positives only (PU) and evaluate (none: skip)")
    parser.add_argument("--modes", nargs="+", default=["paper"], choices=MODES)
    parser.add_argument("--no-identity", action="store_true", help="skip dlib's same-person judgement")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own choice)")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.threads:
        torch.set_num_threads(args.threads)
    grids = Path(args.grids) if args.grids else None
    if grids:
        grids.mkdir(parents=True, exist_ok=True)
    model = load_model(args.checkpoint)
    oracle, names = load_oracle(args.oracle)
    judge = None if args.no_identity else IdentityJudge()
    test = load_dataset(args.data, split="test", resolution=model.config.resolution)
    train_labels = load_dataset(args.data, split="train", resolution=model.config.resolution, labels_only=True)
    directory = builtin_directory(args.checkpoint)
    report = {"edit": {}, "user_attributes": {}, "generation": {}}
    columns = BUILTINS | PU_BUILTINS
    for name in columns if args.attributes is None else args.attributes:
        classifier = AttributeClassifier.load(directory, name)
        report["edit"][name] = evaluate_attribute(model, oracle, names, test, classifier, columns[name], args,
                                                  judge, grids)
        print(name, json.dumps(report["edit"][name]), flush=True)
    if args.user_attributes or args.positives_only:
        report["user_attributes"] = user_attributes(model, oracle, names, test, args, judge, grids)
    if args.generate:
        naive_latents = model.sample(args.generate, generator=torch.Generator().manual_seed(args.seed))
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
