"""RQ job functions, one per job kind in `contract.payloads`. RQ calls each with its payload's JSON arguments.

Manipulate jobs are usually computed ahead in a batch by `workers.batching`, which passes each job its outcome
as `prepared`; RQ's status, retry and result bookkeeping stays per job.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import torch
from PIL import Image
from rq import get_current_job

from contract import attributes, keys
from contract.errors import UploadError, UploadTooLarge
from contract.images import decode_upload, png_bytes
from contract.metrics import record_job_seconds
from contract.payloads import AttributePayload, GeneratePayload, ManipulatePayload
from model.attributes import AttributeClassifier, AttributeDefinitionError, fit_binary, fit_pu
from model.images import to_uint8
from model.manipulation import NoSampleAccepted, default_settings
from model.manipulation import generate as generate_latents
from model.manipulation import manipulate as manipulate_latents
from workers import framing, runtime
from workers.errors import JobInputError
from workers.runtime import Runtime

ENCODE_CHUNK = 64  # images per encoder call while fitting attributes
EditOutcome = dict | Exception  # the job's return value, or what it raises


def _seconds_since(moment: datetime) -> float:
    return (datetime.now(UTC) - moment.replace(tzinfo=moment.tzinfo or UTC)).total_seconds()


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
                    record_job_seconds(job.connection, kind, max(_seconds_since(queued), 0.0))

        return run

    return wrap


def load_photo(env: Runtime, key: str) -> np.ndarray:
    data = env.redis.get(key)
    if data is None:
        raise JobInputError("the uploaded image expired before a worker took the job; upload it again", 410)
    try:
        image = decode_upload(data, env.settings.max_upload_bytes, env.settings.max_upload_pixels)
    except UploadError as error:
        raise JobInputError(error.message, 413 if isinstance(error, UploadTooLarge) else 422) from error
    return np.asarray(image, dtype=np.uint8)


def to_batch(crops: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()


def from_batch(images: torch.Tensor) -> np.ndarray:
    return images.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()


def store_pngs(env: Runtime, job_id: str, pixels: list[np.ndarray]) -> list[str]:
    stored = []
    with env.redis.pipeline() as pipe:
        for index, image in enumerate(pixels):
            key = keys.result(job_id, index)
            pipe.set(key, png_bytes(Image.fromarray(image)), ex=env.settings.result_ttl)
            stored.append(key)
        pipe.execute()
    return stored


@dataclass(frozen=True)
class Edit:
    job_id: str
    payload: ManipulatePayload

    @property
    def group(self) -> tuple:
        """Edits sharing this run as one model batch."""
        return (tuple(self.payload.conditions), self.payload.strength, self.payload.seed)


@dataclass
class FramedEdit:
    """An edit's photo, the frame cut from it, the model-resolution crop and the loaded conditions."""

    edit: Edit
    photo: np.ndarray
    frame: framing.Frame
    crop: np.ndarray
    conditions: list[tuple[AttributeClassifier, bool]]


def frame_edit(env: Runtime, edit: Edit) -> FramedEdit:
    photo = load_photo(env, edit.payload.upload)
    frame = framing.choose_frame(photo, edit.payload.crop, env.detector)
    crop = framing.cut(photo, frame, env.resolution)
    return FramedEdit(edit, photo, frame, crop, env.conditions(edit.payload.conditions))


def edit_group(env: Runtime, group: list[FramedEdit]) -> dict[str, EditOutcome]:
    """One model batch (encode, edit, decode) for edits sharing conditions, strength and seed; pastes each back."""
    first, conditions = group[0].edit.payload, group[0].conditions
    latents = env.model.encode(to_batch([item.crop for item in group]).to(env.model.device))
    before = from_batch(env.model.decode(latents))
    # strength multiplies the attributes' tuned defaults (1 = as tuned when they were built)
    edited = manipulate_latents(env.model, latents, conditions, default_settings(conditions, first.strength),
                                mode=env.settings.manipulation_mode, seed=first.seed)
    after = from_batch(env.model.decode(edited))
    outcomes: dict[str, EditOutcome] = {}
    for index, item in enumerate(group):
        pasted = framing.paste(item.photo, item.frame, before[index], after[index])
        outcomes[item.edit.job_id] = {"results": store_pngs(env, item.edit.job_id, [pasted]), "batch_size": len(group)}
    return outcomes


def run_edits(env: Runtime, edits: list[Edit]) -> dict[str, EditOutcome]:
    """Outcome per job id: {"results": [key], "batch_size": n} or the exception to raise for it."""
    outcomes: dict[str, EditOutcome] = {}
    groups: dict[tuple, list[FramedEdit]] = {}
    for edit in edits:
        try:
            groups.setdefault(edit.group, []).append(frame_edit(env, edit))
        except JobInputError as error:
            outcomes[edit.job_id] = error
    for group in groups.values():
        try:
            outcomes.update(edit_group(env, group))
        except Exception as error:  # noqa: BLE001 - a crash of the shared batch fails (and retries) each of its jobs
            outcomes.update({item.edit.job_id: error for item in group})
    return outcomes


@reported(ManipulatePayload.KIND)
def manipulate(prepared: EditOutcome | None = None, **arguments) -> dict:
    """`prepared`: this job's outcome when its batch already computed it."""
    env, job = runtime.current(), get_current_job()
    payload = ManipulatePayload.model_validate(arguments)
    outcome = prepared if prepared is not None else run_edits(env, [Edit(job.id, payload)])[job.id]
    if isinstance(outcome, Exception):
        raise outcome
    env.redis.delete(payload.upload)  # only now: a job retried after its worker died mid-batch still has its photo
    return outcome


@reported(GeneratePayload.KIND)
def generate(**arguments) -> dict:
    env, job = runtime.current(), get_current_job()
    payload = GeneratePayload.model_validate(arguments)
    budget = env.settings.generate_budget_factor * payload.count
    try:
        latents, acceptance = generate_latents(env.model, env.conditions(payload.conditions), payload.count,
                                               budget=budget, seed=payload.seed)
    except NoSampleAccepted as error:
        raise JobInputError(str(error)) from error
    pixels = list(to_uint8(env.model.decode(latents)))
    return {"results": store_pngs(env, job.id, pixels), "acceptance_rate": acceptance}


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


@reported(AttributePayload.KIND)
def fit_attribute(**arguments) -> dict:
    env, job = runtime.current(), get_current_job()
    payload = AttributePayload.model_validate(arguments)
    try:
        classifier, fallbacks = fit_classifier(env, payload)
    except (JobInputError, AttributeDefinitionError) as error:  # the version fails at once, without retries
        message = error.message if isinstance(error, JobInputError) else str(error)
        attributes.fail_version(env.redis, payload.name, job.id, message)
        raise JobInputError(message) from error
    except Exception as error:  # a crash fails the version only once no retry is left
        if not job.retries_left:
            attributes.fail_version(env.redis, payload.name, job.id, f"internal error: {error}")
        raise
    classifier.metadata.update(created_at=datetime.now(UTC).isoformat(), job_id=job.id, no_face_center_crops=fallbacks)
    weights, info = classifier.to_bytes()
    current = attributes.finish_version(env.redis, payload.name, job.id, classifier.kind, classifier.metadata,
                                        weights, info)
    env.redis.delete(*payload.upload_keys())
    return {"results": [], "attribute": payload.name, "kind": classifier.kind, "current": current,
            "metadata": classifier.metadata}
