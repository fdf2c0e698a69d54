"""The edit path: photo -> faces (or a crop) -> model edit (encode, manipulate, decode) -> paste back, for a batch.

Edits that share conditions, strength and seed run as one model batch (they share its noise draws), every face of
every photo in it; each photo then gets its faces' changes pasted back in turn.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract.payloads import ManipulatePayload
from faces.detection import Face
from model.attributes import AttributeClassifier
from model.manipulation import default_settings, edit_images
from workers import framing
from workers.errors import JobInputError
from workers.photos import from_batch, load_photo, store_pngs, to_batch
from workers.runtime import Runtime

EditOutcome = dict | Exception  # the job's return value, or what it raises
KEPT = "already has every asked attribute; left unchanged"
NO_CHANGE = "the edit changed nothing above the decoder's noise; left unchanged"


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
    """An edit's photo, where the model looks in it, the model-resolution crops and the loaded conditions."""

    edit: Edit
    photo: np.ndarray
    placements: list[framing.Placement]
    crops: list[np.ndarray]
    conditions: list[tuple[AttributeClassifier, bool]]


def frame_edit(env: Runtime, edit: Edit) -> FramedEdit:
    photo = load_photo(env, edit.payload.upload)
    placements = framing.place(photo, edit.payload.crop, env.faces, env.resolution, edit.payload.faces)
    crops = [framing.cut(photo, placement) for placement in placements]
    return FramedEdit(edit, photo, placements, crops, env.conditions(edit.payload.conditions))


def face_report(placement: framing.Placement, changed: bool, distance: float | None, note: str | None) -> dict:
    """One entry of the job's `faces`: where the face is in the uploaded photo and what happened to it."""
    landmarks = placement.face.landmarks.round(1).tolist() if placement.face is not None else None
    return {"box": [int(value) for value in placement.box], "landmarks": landmarks, "aligned": placement.aligned,
            "changed": changed, "identity_distance": None if distance is None else round(distance, 4), "note": note}


def measured_face(env: Runtime, photo: np.ndarray, placement: framing.Placement) -> Face | None:
    """The face whose identity is measured: the aligned one, or the largest found inside a plain crop."""
    if placement.face is not None:
        return placement.face
    x, y, w, h = placement.box
    for face in env.faces.find(photo):  # largest first
        centre_x, centre_y = face.landmarks.mean(axis=0)
        if x <= centre_x < x + w and y <= centre_y < y + h:
            return face
    return None


def paste_faces(env: Runtime, item: FramedEdit, before: np.ndarray, after: np.ndarray,
                kept: list[bool]) -> tuple[np.ndarray, list[dict]]:
    """The photo with each face's change pasted in turn, and the report of every face (identity measured on the
    final photo, so a face's distance includes a neighbour's overlapping change)."""
    pasted, changes = item.photo, []
    for index, placement in enumerate(item.placements):
        changed = False
        if not kept[index]:
            pasted, changed = framing.paste(pasted, placement, before[index], after[index])
        changes.append(changed)
    reports = []
    for index, (placement, changed) in enumerate(zip(item.placements, changes, strict=True)):
        face = measured_face(env, item.photo, placement) if changed else None
        distance = env.identity.identity_distance(item.photo, pasted, face) if face is not None else None
        note = KEPT if kept[index] else None if changed else NO_CHANGE
        reports.append(face_report(placement, changed, distance, note))
    return pasted, reports


def edit_group(env: Runtime, group: list[FramedEdit]) -> dict[str, EditOutcome]:
    """One model batch (encode, edit, decode) for every face of the edits sharing conditions, strength and seed;
    pastes each photo's faces back."""
    first, conditions = group[0].edit.payload, group[0].conditions
    crops = [crop for item in group for crop in item.crops]
    # strength multiplies the attributes' tuned defaults (1 = as tuned when they were built)
    before, after, kept = edit_images(env.model, to_batch(crops), conditions,
                                      default_settings(conditions, first.strength),
                                      mode=env.settings.manipulation_mode, seed=first.seed)
    # kept: a face that already had every asked attribute with margin (its after == before), not pasted
    before, after, kept = from_batch(before), from_batch(after), kept.tolist()
    outcomes: dict[str, EditOutcome] = {}
    start = 0
    for item in group:
        end = start + len(item.crops)
        pasted, reports = paste_faces(env, item, before[start:end], after[start:end], kept[start:end])
        outcomes[item.edit.job_id] = {"results": store_pngs(env, item.edit.job_id, [pasted]),
                                      "batch_size": len(crops), "faces": reports}
        start = end
    return outcomes


def run_edits(env: Runtime, edits: list[Edit]) -> dict[str, EditOutcome]:
    """Outcome per job id: {"results": [key], "batch_size": images in the model batch, "faces": [...]} or the
    exception to raise for it."""
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
