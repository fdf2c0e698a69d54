"""Attribute records as the API shows them: how the examples were framed and the tuned strength, from records written
now and from records written before examples were aligned."""
from __future__ import annotations

import json

from service.schemas import AttributeView


def record(metadata: dict, kind: str = "binary") -> dict:
    return {"name": "wavy", "status": "ready", "kind": kind, "builtin": "0", "version": "2",
            "metadata": json.dumps(metadata)}


ALIGNED = {"positives": 50, "negatives": 50, "cv_accuracy": 0.8, "examples": {"aligned": 85, "center_fallback": 12,
                                                                              "refused": 3},
           "defaults": {"strength": 1.75, "sigma": 8.0}, "tuning": {"images": 64, "edited_median_logit": 2.1}}


def test_a_record_with_framed_examples_and_a_tuned_strength():
    view = AttributeView.of(record(ALIGNED))
    assert view.examples is not None
    assert (view.examples.aligned, view.examples.center_fallback, view.examples.refused) == (85, 12, 3)
    assert view.strength == 1.75
    assert view.description == ("defined from 50 faces that have it and 50 that do not; 12 had no face found and "
                                "were framed by the centre square; 3 were refused")


def test_every_example_aligned_is_not_mentioned():
    metadata = {**ALIGNED, "examples": {"aligned": 100, "center_fallback": 0, "refused": 0}}
    view = AttributeView.of(record(metadata))
    assert view.examples.aligned == 100
    assert view.description == "defined from 50 faces that have it and 50 that do not"


def test_an_older_record_counted_only_its_centre_fallbacks():
    view = AttributeView.of(record({"positives": 20, "unlabeled": 64, "no_face_center_crops": 15}, kind="pu"))
    assert view.examples is None and view.strength is None
    assert view.description == ("defined from positive examples only (20 faces that have it, against 64 unlabeled "
                                "faces); 15 had no face found and were framed by the centre square")


def test_a_positives_only_attribute_says_how_common_its_examples_look():
    view = AttributeView.of(record({"positives": 100, "unlabeled": 3000, "class_prior": 0.1607}, kind="pu"))
    assert view.description == ("defined from positive examples only (100 faces that have it, against 3000 "
                                "unlabeled faces); about 16% of the unlabeled faces look like them")


def test_an_older_record_with_neither_and_a_training_one():
    older = AttributeView.of(record({"positives": 6, "negatives": 6}))
    assert older.examples is None and older.strength is None
    assert older.description == "defined from 6 faces that have it and 6 that do not"
    training = AttributeView.of({"name": "new", "status": "training", "counts": json.dumps({"positives": 5})})
    assert training.examples is None and training.strength is None and training.counts == {"positives": 5}


def test_the_shown_fields_are_in_the_json():
    shown = AttributeView.of(record(ALIGNED)).model_dump(mode="json")
    assert shown["examples"] == {"aligned": 85, "center_fallback": 12, "refused": 3} and shown["strength"] == 1.75


def test_a_local_attribute_says_where_its_edits_act():
    region = {"cells": 9, "of": 64, "threshold": 1.5, "offset": 0.1}
    view = AttributeView.of(record({"positives": 50, "negatives": 50, "region": region}))
    assert view.description == ("defined from 50 faces that have it and 50 that do not; edits only where its examples "
                                "differ (9 of the face's 64 latent cells)")
    adding_whole = {"positives": 50, "negatives": 50, "region": region, "defaults": {"local": False},
                    "remove_defaults": {"local": True}}
    assert AttributeView.of(record(adding_whole)).description.endswith(
        "; removing it edits only where its examples differ (9 of the face's 64 latent cells)")
    neither = {**adding_whole, "remove_defaults": {"local": False}}
    assert AttributeView.of(record(neither)).description == "defined from 50 faces that have it and 50 that do not"
