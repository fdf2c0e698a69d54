"""Fitting an attribute classifier from uploaded example photos."""
from __future__ import annotations

import torch

from contract.payloads import AttributePayload
from model.attributes import AttributeClassifier, fit_binary, fit_pu
from workers import framing
from workers.errors import JobInputError
from workers.photos import load_photo, to_batch
from workers.runtime import Runtime

ENCODE_CHUNK = 64  # images per encoder call


def encode_examples(env: Runtime, upload_keys: list[str], crop: str,
                    mirror: bool = False) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """Latents of the examples, of their mirror images when asked (else None), and how many fell back to a centre
    crop for want of a detectable face."""
    crops, fallbacks = [], 0
    for number, key in enumerate(upload_keys, start=1):
        try:
            photo = load_photo(env, key)
        except JobInputError as error:
            raise JobInputError(f"example {number}: {error.message}", error.status) from error
        frame = framing.choose_frame(photo, crop, env.detector, fallback_to_center=True,
                                     detect_side=framing.EXAMPLE_DETECT_SIDE)
        fallbacks += crop == "face" and frame == framing.center_frame(photo)
        crops.append(framing.cut(photo, frame, env.resolution))
    latents, mirrors = [], []
    for start in range(0, len(crops), ENCODE_CHUNK):
        batch = to_batch(crops[start : start + ENCODE_CHUNK]).to(env.model.device)
        encoded = env.model.encode(torch.cat([batch, batch.flip(-1)]) if mirror else batch)
        latents.append(encoded[: len(batch)])
        mirrors.append(encoded[len(batch) :])
    return torch.cat(latents).cpu(), torch.cat(mirrors).cpu() if mirror else None, fallbacks


def fit_classifier(env: Runtime, payload: AttributePayload) -> tuple[AttributeClassifier, int]:
    """The fitted classifier and how many examples fell back to a centre crop."""
    mirror = payload.mirror and bool(payload.negative)  # binary attributes only
    positives, positive_mirrors, fallbacks = encode_examples(env, payload.positive, payload.crop, mirror)
    if not payload.negative:
        return fit_pu(payload.name, positives, env.unlabeled_pool(), covariance=env.latent_covariance()), fallbacks
    negatives, negative_mirrors, negative_fallbacks = encode_examples(env, payload.negative, payload.crop, mirror)
    classifier = fit_binary(payload.name, positives, negatives, covariance=env.latent_covariance(),
                            mirrors=(positive_mirrors, negative_mirrors) if mirror else None)
    return classifier, fallbacks + negative_fallbacks
