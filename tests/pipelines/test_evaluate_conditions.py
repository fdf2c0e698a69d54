from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from model.attributes import fit_binary
from model.data import load_dataset
from pipelines.evaluate_conditions import CURVE, evaluate_edits
from pipelines.oracle import Oracle
from tests.tiny_data import ATTRIBUTES


@pytest.fixture
def edit_setup(tiny_model, celeba64_dir):
    torch.manual_seed(0)
    test = load_dataset(celeba64_dir, split="test", resolution=32)
    train = load_dataset(celeba64_dir, split="train", resolution=32)
    latents = tiny_model.encode(train.float_images(slice(None)))
    blond = train.attribute("Blond_Hair").bool()
    classifier = fit_binary("blond", latents[blond], latents[~blond])
    return tiny_model, Oracle(attributes=len(ATTRIBUTES), width=4).eval(), test, classifier


def rows(model, oracle, test, classifier, target):
    return evaluate_edits(model, oracle, ATTRIBUTES, test, classifier, "Blond_Hair", target, count=10, batch=2,
                          seed=0, judge=None)


def test_each_direction_edits_the_faces_whose_label_is_not_the_target(edit_setup):
    model, oracle, test, classifier = edit_setup
    lacking = int((test.attribute("Blond_Hair") == 0).sum())
    add, remove = rows(model, oracle, test, classifier, True), rows(model, oracle, test, classifier, False)
    assert add["images"] == lacking and remove["images"] == len(test) - lacking
    for row in (add, remove):
        assert [point["multiplier"] for point in row["curve"]] == sorted(CURVE)
        assert row["paper"]["kept"] == 0.0  # no typical logit: every face is edited
        assert 0 <= row["paper"]["success"] <= 1 and 0 <= row["paper"]["preservation"] <= 1
        assert row["paper"]["psnr_db"] < 60  # the delivered image changed


def test_faces_that_already_meet_the_condition_are_delivered_untouched(edit_setup):
    model, oracle, test, classifier = edit_setup
    # a typical logit every face clears on the side asked: all are kept, the delivered image is the source
    margin = float(classifier.logit(model.encode(test.float_images(slice(None)))).abs().min()) / 2
    shifted = replace(classifier, bias=classifier.bias + 1e3,
                      metadata={**classifier.metadata, "tuning": {"positive_median_logit": margin}})
    row = rows(model, oracle, test, shifted, True)
    assert row["paper"]["kept"] == 1.0 and row["paper"]["preservation"] == 1.0
    assert row["paper"]["psnr_db"] == pytest.approx(100.0)  # identical images: the PSNR's clamp


CELEBA64 = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "celeba64"


@pytest.mark.skipif(not CELEBA64.is_dir(), reason="needs ../shared/data/celeba64 for real faces dlib can find")
def test_identity_judge_finds_the_same_person_in_an_unchanged_face_and_none_in_a_blank():
    from pipelines.evaluate_conditions import IdentityJudge

    faces = load_dataset(CELEBA64, split="test", resolution=64, limit=4).float_images(slice(None))
    judge = IdentityJudge()
    same = judge.distances(faces, faces)
    assert (same[~np.isnan(same)] < 1e-6).all() and (~np.isnan(same)).sum() >= 3
    others = judge.distances(faces, faces.roll(1, dims=0))  # each face against another person
    assert np.nanmean(others) > 0.3
    assert np.isnan(judge.distances(torch.full((1, 3, 64, 64), 0.5), torch.full((1, 3, 64, 64), 0.5))).all()
