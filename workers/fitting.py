"""Fitting an attribute classifier from uploaded example photos, framed the way edited photos are.

With crop=face each example is aligned by its largest face's landmarks. One without a face found falls back to its
centre square only when it is a close-up (like a CelebA thumbnail, already framed); a larger photo without a face
is refused (left out of the fit), since its centre square is unlikely to hold a face framed like the training ones.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import torch

from contract.payloads import AttributePayload
from model.attributes import AttributeClassifier, AttributeDefinitionError, fit_binary, fit_pu
from model.manipulation import tune_on_pool
from workers import framing
from workers.errors import JobInputError
from workers.photos import load_photo, to_batch
from workers.runtime import Runtime

ENCODE_CHUNK = 64  # images per encoder call
CLOSE_UP = 4  # a photo whose shorter side is at most this many model resolutions is a close-up
# examples are searched at 128 px and up: on 300 64-px CelebA faces that finds 94% of them (4x: 96%) in a third
# of the time, with landmarks 0.26 px (mean, 64-px frame) from the 4x ones
EXAMPLE_MIN_SIDE, EXAMPLE_MAX_SIDE = 128, 640
ALIGNED, FALLBACK, REFUSED = "aligned", "center_fallback", "refused"


def frame_example(env: Runtime, photo: np.ndarray, crop: str) -> tuple[framing.Placement | None, str | None]:
    """Where the model looks in one example, and how it was framed (None for crop=center or none); no placement
    when it is refused."""
    if crop != "face":
        return framing.place(photo, crop, env.faces, env.resolution)[0], None
    found = framing.find_faces(photo, env.faces, env.resolution, largest_only=True, min_side=EXAMPLE_MIN_SIDE,
                               max_side=EXAMPLE_MAX_SIDE)
    if found:
        return found[0], ALIGNED
    if min(photo.shape[:2]) <= CLOSE_UP * env.resolution:
        return framing.center_placement(photo, env.resolution), FALLBACK
    return None, REFUSED


def encode_examples(env: Runtime, upload_keys: list[str], crop: str,
                    mirror: bool = False) -> tuple[torch.Tensor, torch.Tensor | None, Counter]:
    """Latents of the examples kept, of their mirror images when asked (else None), and how many were aligned,
    fell back to the centre square or were refused."""
    crops, counts = [], Counter({ALIGNED: 0, FALLBACK: 0, REFUSED: 0})
    for number, key in enumerate(upload_keys, start=1):
        try:
            photo = load_photo(env, key)
        except JobInputError as error:
            raise JobInputError(f"example {number}: {error.message}", error.status) from error
        placement, framed = frame_example(env, photo, crop)
        counts.update([framed] if framed else [])
        if placement is not None:
            crops.append(framing.cut(photo, placement))
    if not crops:  # every example refused: the fit reports too few
        return torch.empty(0), torch.empty(0) if mirror else None, counts
    latents, mirrors = [], []
    for start in range(0, len(crops), ENCODE_CHUNK):
        batch = to_batch(crops[start : start + ENCODE_CHUNK]).to(env.model.device)
        encoded = env.model.encode(torch.cat([batch, batch.flip(-1)]) if mirror else batch)
        latents.append(encoded[: len(batch)])
        mirrors.append(encoded[len(batch) :])
    return torch.cat(latents).cpu(), torch.cat(mirrors).cpu() if mirror else None, counts


def fit_classifier(env: Runtime, payload: AttributePayload) -> tuple[AttributeClassifier, dict[str, int]]:
    """The fitted classifier and how its examples were framed: {"aligned", "center_fallback", "refused"}."""
    mirror = payload.mirror and bool(payload.negative)  # binary attributes only
    positives, positive_mirrors, counts = encode_examples(env, payload.positive, payload.crop, mirror)
    negatives = None
    try:
        if not payload.negative:
            classifier = fit_pu(payload.name, positives, env.unlabeled_pool(), covariance=env.latent_covariance(),
                                held=env.skin_readout, teacher=env.teacher())
        else:
            negatives, negative_mirrors, negative_counts = encode_examples(env, payload.negative, payload.crop, mirror)
            counts += negative_counts
            classifier = fit_binary(payload.name, positives, negatives, covariance=env.latent_covariance(),
                                    mirrors=(positive_mirrors, negative_mirrors) if mirror else None,
                                    held=env.skin_readout, pool=env.unlabeled_pool() if env.has_pool else None,
                                    teacher=env.teacher())
    except AttributeDefinitionError as error:
        if not counts[REFUSED]:
            raise
        total = len(payload.positive) + len(payload.negative)
        raise AttributeDefinitionError(
            f"{error}: {counts[REFUSED]} of the {total} examples were refused (no face found in a photo larger than "
            f"a close-up); send photos with a clear frontal face, or crop=center to use them as they are") from error
    if env.has_pool:  # the built-ins' strength rule, so strength 1 means "as strong as its own examples"
        device = env.model.device
        classifier.metadata.update(tune_on_pool(
            env.model, classifier, positives.to(device), env.unlabeled_pool().to(device),
            mode=env.settings.manipulation_mode, negatives=None if negatives is None else negatives.to(device)))
    return classifier, {key: counts[key] for key in (ALIGNED, FALLBACK, REFUSED)}
