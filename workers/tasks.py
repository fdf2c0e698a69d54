"""RQ job functions. Arguments are JSON: Redis keys of uploaded bytes and plain values, never pickles.

Manipulate jobs are usually computed ahead in a batch by `workers.batching`; the job function then only
hands back the stored outcome, so RQ's status, retry and result bookkeeping stays per job.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import torch
from PIL import Image
from rq import get_current_job

from model.attributes import AttributeDefinitionError, fit_binary, fit_pu
from model.images import to_uint8
from model.manipulation import NoSampleAccepted, default_settings
from model.manipulation import generate as generate_latents
from model.manipulation import manipulate as manipulate_latents
from service import attribute_store, keys
from service.images import UploadError, decode_upload, png_bytes
from service.job_metrics import record_job_seconds
from workers import framing, runtime
from workers.errors import JobInputError

ENCODE_CHUNK = 64  # images per encoder call while fitting attributes
_prepared: dict[str, dict | Exception] = {}  # job id -> outcome computed in a batch


def reported(kind: str):
    """Record latency (queued to done, what the user waits); input errors become a user-facing message with
    no retry, crashes retried failures."""

    def wrap(function):
        @functools.wraps(function)
        def run(**arguments):
            job = get_current_job()
            try:
                return function(**arguments)
            except JobInputError as error:
                job.meta.update(error=error.message, error_status=error.status)
                job.save_meta()
                job.retries_left = 0  # the same input would fail again
                raise
            except Exception as error:
                job.meta.update(error=f"internal error ({type(error).__name__}): {error}", error_status=500)
                job.save_meta()
                raise
            finally:
                queued = job.enqueued_at or job.created_at
                if queued is not None:
                    waited = (datetime.now(timezone.utc) - queued.replace(tzinfo=queued.tzinfo or timezone.utc)).total_seconds()
                    record_job_seconds(runtime.current().redis, kind, max(waited, 0.0))

        return run

    return wrap


def load_photo(key: str) -> np.ndarray:
    env = runtime.current()
    data = env.redis.get(key)
    if data is None:
        raise JobInputError("the uploaded image expired before a worker took the job; upload it again", 410)
    try:
        image = decode_upload(data, env.settings.max_upload_bytes, env.settings.max_upload_pixels)
    except UploadError as error:
        raise JobInputError(error.message, error.status) from error
    return np.asarray(image, dtype=np.uint8)


def to_batch(crops: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()


def from_batch(images: torch.Tensor) -> np.ndarray:
    return images.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()


def store_pngs(job_id: str, pixels: list[np.ndarray]) -> list[str]:
    env = runtime.current()
    stored = []
    with env.redis.pipeline() as pipe:
        for index, image in enumerate(pixels):
            key = keys.result(job_id, index)
            pipe.set(key, png_bytes(Image.fromarray(image)), ex=env.settings.result_ttl)
            stored.append(key)
        pipe.execute()
    return stored


@dataclass
class Edit:
    job_id: str
    upload: str
    conditions: list
    strength: float
    seed: int
    crop: str

    @property
    def group(self) -> tuple:
        """Edits sharing this run as one model batch."""
        return (tuple(map(tuple, self.conditions)), self.strength, self.seed)


def run_edits(edits: list[Edit]) -> dict[str, dict | Exception]:
    """Outcome per job id: {"results": [key]} or the exception to raise for it."""
    env = runtime.current()
    outcomes: dict[str, dict | Exception] = {}
    ready: dict[tuple, list] = {}
    for edit in edits:
        try:
            photo = load_photo(edit.upload)
            frame = framing.choose_frame(photo, edit.crop, env.detector)
            crop = framing.cut(photo, frame, env.resolution)
            ready.setdefault(edit.group, []).append((edit, photo, frame, crop, env.conditions(edit.conditions)))
        except JobInputError as error:
            outcomes[edit.job_id] = error
    for group in ready.values():
        first = group[0][0]
        try:
            latents = env.model.encode(to_batch([item[3] for item in group]).to(env.model.device))
            before = from_batch(env.model.decode(latents))
            conditions = group[0][4]
            # strength multiplies the attributes' tuned defaults (1 = as tuned when they were built)
            edited = manipulate_latents(env.model, latents, conditions, default_settings(conditions, first.strength),
                                        mode=env.settings.manipulation_mode, seed=first.seed)
            after = from_batch(env.model.decode(edited))
        except Exception as error:  # a crash of the shared batch fails (and retries) each of its jobs
            outcomes.update({item[0].job_id: error for item in group})
            continue
        for index, (edit, photo, frame, _, _) in enumerate(group):
            pasted = framing.paste(photo, frame, before[index], after[index])
            outcomes[edit.job_id] = {"results": store_pngs(edit.job_id, [pasted]), "batch_size": len(group)}
    return outcomes


def prepare_batch(edits: list[Edit]) -> None:
    _prepared.update(run_edits(edits))


def forget_batch(job_ids: list[str]) -> None:
    for job_id in job_ids:
        _prepared.pop(job_id, None)


@reported("manipulate")
def manipulate(upload: str, conditions: list, strength: float = 1.0, seed: int = 0, crop: str = "face") -> dict:
    job_id = get_current_job().id
    outcome = _prepared.pop(job_id, None)
    if outcome is None:
        outcome = run_edits([Edit(job_id, upload, conditions, strength, seed, crop)])[job_id]
    if isinstance(outcome, Exception):
        raise outcome
    runtime.current().redis.delete(upload)  # only now: a job retried after its worker died mid-batch still has its photo
    return outcome


@reported("generate")
def generate(conditions: list, count: int, seed: int = 0) -> dict:
    env = runtime.current()
    budget = env.settings.generate_budget_factor * count
    try:
        latents, acceptance = generate_latents(env.model, env.conditions(conditions), count, budget=budget, seed=seed)
    except NoSampleAccepted as error:
        raise JobInputError(str(error)) from error
    pixels = list(to_uint8(env.model.decode(latents)))
    return {"results": store_pngs(get_current_job().id, pixels), "acceptance_rate": acceptance}


def encode_examples(upload_keys: list[str], crop: str, mirror: bool = False) -> tuple[torch.Tensor, torch.Tensor | None, int]:
    """Latents of the examples, of their mirror images when asked (else None), and how many fell back to a centre
    crop for want of a detectable face."""
    env = runtime.current()
    crops, fallbacks = [], 0
    for number, key in enumerate(upload_keys, start=1):
        try:
            photo = load_photo(key)
        except JobInputError as error:
            raise JobInputError(f"example {number}: {error.message}", error.status) from error
        frame = framing.choose_frame(photo, crop, env.detector, fallback_to_center=True, detect_side=framing.EXAMPLE_DETECT_SIDE)
        fallbacks += crop == "face" and frame == framing.center_frame(photo)
        crops.append(framing.cut(photo, frame, env.resolution))
    latents, mirrors = [], []
    for start in range(0, len(crops), ENCODE_CHUNK):
        batch = to_batch(crops[start : start + ENCODE_CHUNK]).to(env.model.device)
        encoded = env.model.encode(torch.cat([batch, batch.flip(-1)]) if mirror else batch)
        latents.append(encoded[: len(batch)])
        mirrors.append(encoded[len(batch) :])
    return torch.cat(latents).cpu(), torch.cat(mirrors).cpu() if mirror else None, fallbacks


@reported("attribute")
def fit_attribute(name: str, positive: list[str], negative: list[str], crop: str = "face", mirror: bool = False) -> dict:
    env = runtime.current()
    job = get_current_job()
    try:
        mirror = mirror and bool(negative)  # binary attributes only
        positives, positive_mirrors, fallbacks = encode_examples(positive, crop, mirror)
        negatives, negative_mirrors, negative_fallbacks = encode_examples(negative, crop, mirror) if negative else (None, None, 0)
        if negatives is not None:
            classifier = fit_binary(name, positives, negatives, covariance=env.latent_covariance(),
                                    mirrors=(positive_mirrors, negative_mirrors) if mirror else None)
        else:
            classifier = fit_pu(name, positives, env.unlabeled_pool(), covariance=env.latent_covariance())
    except (JobInputError, AttributeDefinitionError) as error:
        message = error.message if isinstance(error, JobInputError) else str(error)
        attribute_store.fail_version(env.redis, name, job.id, message)
        raise JobInputError(message) from error
    except Exception as error:
        if not job.retries_left:
            attribute_store.fail_version(env.redis, name, job.id, f"internal error: {error}")
        raise
    classifier.metadata.update(created_at=datetime.now(timezone.utc).isoformat(), job_id=job.id,
                               no_face_center_crops=fallbacks + negative_fallbacks)
    weights, info = classifier.to_bytes()
    current = attribute_store.finish_version(env.redis, name, job.id, classifier.kind, classifier.metadata, weights, info)
    env.redis.delete(*positive, *negative)
    return {"results": [], "attribute": name, "kind": classifier.kind, "current": current, "metadata": classifier.metadata}
