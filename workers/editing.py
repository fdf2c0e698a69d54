"""The edit path: photo -> frame -> model edit (encode, manipulate, decode) -> paste back, for a batch of edits.

Edits that share conditions, strength and seed run as one model batch (they share its noise draws).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract.payloads import ManipulatePayload
from model.attributes import AttributeClassifier
from model.manipulation import default_settings, edit_images
from workers import framing
from workers.errors import JobInputError
from workers.photos import from_batch, load_photo, store_pngs, to_batch
from workers.runtime import Runtime

EditOutcome = dict | Exception  # the job's return value, or what it raises


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
    # strength multiplies the attributes' tuned defaults (1 = as tuned when they were built)
    before, after = edit_images(env.model, to_batch([item.crop for item in group]), conditions,
                                default_settings(conditions, first.strength), mode=env.settings.manipulation_mode,
                                seed=first.seed)
    before, after = from_batch(before), from_batch(after)
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
            framed = frame_edit(env, edit)
        except JobInputError as error:  # e.g. no face, or an attribute deleted since the job was queued
            outcomes[edit.job_id] = error
            continue
        groups.setdefault(edit.group, []).append(framed)
    for group in groups.values():
        try:
            outcomes.update(edit_group(env, group))
        except Exception as error:  # noqa: BLE001 - a crash of the shared batch fails (and retries) each of its jobs
            outcomes.update({item.edit.job_id: error for item in group})
    return outcomes
