from dataclasses import replace

import pytest
import torch

from model.attributes import fit_binary, latent_covariance
from model.d2c import D2C, D2CLoss
from model.manipulation import (
    LOCAL_MARGIN,
    MIN_DRAWS,
    STRENGTH_GRID,
    ManipulationSettings,
    NoSampleAccepted,
    already_satisfied,
    default_settings,
    edit_footprint,
    edit_images,
    edit_plan,
    generate,
    manipulate,
    rejection_sample,
    tune_on_pool,
    tune_strength,
    tuned_metadata,
)
from tests.tiny_data import face_like, tiny_model_config


@pytest.fixture(scope="module")
def trained():
    """A tiny D2C trained by the test on synthetic faces whose hair colour is the attribute."""
    torch.manual_seed(0)
    blond = torch.arange(48) % 2 == 0
    images = (
        torch.stack([torch.from_numpy(face_like(i, 32, bool(b))).permute(2, 0, 1) for i, b in enumerate(blond)]).float()
        / 255
    )
    model = D2C(tiny_model_config())
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss = D2CLoss(contrastive_weight=0.0)
    for step in range(150):
        batch = images[(torch.arange(16) + 16 * step) % 48]
        terms = loss(model, batch)
        optimizer.zero_grad()
        terms["loss"].backward()
        optimizer.step()
    model.eval().requires_grad_(False)
    latents = model.encode(images)
    classifier = fit_binary("blond", latents[blond], latents[~blond])
    return model, latents[~blond], classifier


def test_strength_zero_returns_the_reconstruction(trained):
    model, latents, classifier = trained
    for mode in ("paper", "fast", "no_correction"):
        edited = manipulate(model, latents, [(classifier, True)], ManipulationSettings(strength=0.0), mode=mode)
        assert torch.equal(model.decode(edited), model.decode(latents))


def test_edit_images_returns_the_decoded_reference_and_edit(trained):
    model, latents, classifier = trained
    images = model.decode(latents[:4])
    settings = ManipulationSettings(strength=2.0, sigma=8.0, steps=5, alpha=0.95, correction_steps=3)
    before, after, kept = edit_images(model, images, [(classifier, True)], settings, mode="paper", seed=3)
    assert not kept.any()  # no typical logit yet: nothing counts as already edited
    expected = manipulate(model, model.encode(images), [(classifier, True)], settings, mode="paper", seed=3)
    torch.testing.assert_close(after, model.decode(expected))  # pairing does not change the edit itself
    reconstruction = model.decode(model.encode(images))
    assert not torch.allclose(before, reconstruction)  # the reference went through the same corrections
    assert not torch.allclose(before, after)
    # without corrections, the reference path (closeness pull only, from the source) stays at the source
    uncorrected = replace(settings, alpha=1.0)
    before, _, _ = edit_images(model, images, [(classifier, True)], uncorrected, mode="paper", seed=3)
    torch.testing.assert_close(before, reconstruction)
    for mode, corrected in (("fast", True), ("no_correction", False)):
        before, _, _ = edit_images(model, images, [(classifier, True)], settings, mode=mode, seed=3)
        assert torch.allclose(before, reconstruction) != corrected, mode


def test_the_corrections_resampling_cancels_in_the_delivered_change(trained):
    model, latents, classifier = trained
    images = model.decode(latents[:4])
    faint = ManipulationSettings(strength=1e-6, sigma=8.0, steps=5, alpha=0.9, correction_steps=2)
    before, after, _ = edit_images(model, images, [(classifier, True)], faint, mode="paper", seed=3)
    # each correction resamples the latent: the edit drifts from the reconstruction even with no pull ...
    drift = model.decode(manipulate(model, model.encode(images), [(classifier, True)], faint, seed=3))
    assert float((drift - model.decode(model.encode(images))).abs().max()) > 0.02
    # ... and its reference drifts alike, so the change delivered is only the pull's
    assert float((after - before).abs().max()) < 1e-3


def test_faces_that_already_have_the_asked_attribute_come_back_unchanged(trained):
    model, latents, classifier = trained
    images = model.decode(latents[:8])
    lacking = -classifier.logit(model.encode(images))  # all lack blond, by margins that differ
    typical = float(lacking.median())
    sure = replace(classifier, metadata={**classifier.metadata, "tuning": {"positive_median_logit": typical}})
    settings = ManipulationSettings(strength=2.0, sigma=8.0, steps=3, alpha=0.95, correction_steps=2)
    before, after, kept = edit_images(model, images, [(sure, False)], settings, mode="paper")
    assert torch.equal(kept, lacking >= typical) and 0 < int(kept.sum()) < len(kept)
    assert torch.equal(after[kept], before[kept])
    assert not torch.allclose(after[~kept], before[~kept])
    assert not already_satisfied(model.encode(images), [(sure, True)]).any()  # none of them is blond


def test_tuned_strength_is_the_smallest_on_the_grid_that_reaches_the_positives_score(trained):
    model, latents, classifier = trained
    base = ManipulationSettings(sigma=8.0, steps=2, alpha=0.95, correction_steps=2)

    def reached(strength: float) -> float:
        edited = manipulate(model, latents[:8], [(classifier, True)], replace(base, strength=strength))
        return float(classifier.logit(edited).median())

    typical = (reached(1.0) + reached(2.0)) / 2
    strength, at = tune_strength(model, classifier, latents[:8], typical, base)
    index = STRENGTH_GRID.index(strength)
    assert at == pytest.approx(reached(strength)) and at >= typical
    assert reached(STRENGTH_GRID[index - 1]) < typical and 1.0 < strength <= 2.0
    # removing: the same rule on the negated score, from latents that have the attribute
    blond = manipulate(model, latents[:8], [(classifier, True)], replace(base, strength=4.0))
    removal, score = tune_strength(model, classifier, blond, 0.0, base, target=False)
    removed = manipulate(model, blond, [(classifier, False)], replace(base, strength=removal))
    assert score == pytest.approx(float((-classifier.logit(removed)).median())) and score >= 0.0


def test_removing_an_attribute_uses_its_own_tuned_defaults(trained):
    _, _, classifier = trained
    tuned = replace(classifier, metadata={"defaults": {"strength": 0.5}, "remove_defaults": {"strength": 2.0}})
    assert default_settings([(tuned, True)]).strength == 0.5
    assert default_settings([(tuned, False)], strength=2.0).strength == 4.0
    older = replace(classifier, metadata={"defaults": {"strength": 0.5}})  # tuned before removal had its own
    assert default_settings([(older, False)]).strength == 0.5


def test_a_new_attribute_is_tuned_on_pool_latents_it_scores_as_lacking_it(trained):
    model, latents, classifier = trained
    direction = classifier.edit_direction.reshape(latents.shape[1:])
    gain = float(classifier.weight @ classifier.edit_direction)  # logit per unit step along the direction
    steps = (2.0 - classifier.logit(latents[:4])) / gain
    positives = latents[:4] + steps[:, None, None, None] * direction  # logit 2: they score like blond faces
    metadata = tune_on_pool(model, classifier, positives, latents, count=6)
    assert metadata["tuning"]["images"] == 6 and metadata["defaults"]["strength"] in STRENGTH_GRID
    # the latents are all non-blond: none scores on the attribute's side, so removal keeps the defaults untuned
    assert metadata["tuning"]["remove_images"] == 0 and metadata["tuning"]["removed_median_score"] is None
    both = tune_on_pool(model, classifier, positives, torch.cat([latents, positives]), count=6)
    assert both["tuning"]["remove_images"] == 4 and both["remove_defaults"]["strength"] in STRENGTH_GRID
    assert metadata["tuning"]["positive_median_logit"] == pytest.approx(float(classifier.logit(positives).median()),
                                                                        abs=1e-3)
    assert tune_on_pool(model, classifier, positives, latents, mode="fast")["tuning"]["images"] == 0


def test_paper_edit_flips_the_decision_and_moves_less_than_an_unconstrained_step(trained):
    model, latents, classifier = trained
    assert (classifier.probability(latents) < 0.5).all()
    settings = ManipulationSettings(strength=2.0, sigma=8.0, steps=5, alpha=0.95, correction_steps=3)
    edited = manipulate(model, latents, [(classifier, True)], settings, mode="paper")
    assert (classifier.probability(edited) > 0.5).float().mean() >= 0.9
    unconstrained = manipulate(
        model, latents, [(classifier, True)], ManipulationSettings(**{**settings.__dict__, "sigma": 1e4}), mode="paper"
    )
    moved = (edited - latents).flatten(1).norm(dim=1)
    moved_free = (unconstrained - latents).flatten(1).norm(dim=1)
    assert (moved < moved_free).all()


def test_paper_edit_moves_along_the_classifier_edit_direction(trained):
    model, latents, classifier = trained
    size = latents[0].numel()
    scales = torch.logspace(-1, 1, size)[torch.randperm(size, generator=torch.Generator().manual_seed(2))]
    covariance = latent_covariance(torch.randn(4000, size, generator=torch.Generator().manual_seed(1)) * scales)
    metric = replace(classifier, direction=covariance @ classifier.weight)
    settings = ManipulationSettings(strength=2.0, alpha=1.0)  # alpha 1: no diffusion correction
    moved = (manipulate(model, latents, [(metric, True)], settings, mode="paper") - latents).flatten(1)
    cosine = lambda direction: torch.nn.functional.cosine_similarity(moved, direction[None], dim=1)
    assert (cosine(metric.edit_direction) > 0.999).all()
    assert (cosine(metric.weight) < 0.9).all()
    assert (metric.probability(latents + moved.reshape(latents.shape)) > 0.5).float().mean() >= 0.9


def test_a_local_edit_moves_only_the_attribute_region(trained):
    model, latents, classifier = trained
    region = torch.zeros(latents.shape[1:])
    region[:, 0] = 1  # the top row of latent cells
    local = replace(classifier, region=region.flatten(), metadata={**classifier.metadata, "region": {"offset": 0.0}})
    settings = ManipulationSettings(strength=2.0, alpha=1.0, local=True)  # alpha 1: no diffusion correction
    moved = (manipulate(model, latents, [(local, True)], settings) - latents).flatten(1)
    inside = region.flatten() == 1
    assert float(moved[:, ~inside].abs().max()) == 0.0 and float(moved[:, inside].abs().max()) > 0.1
    whole = (manipulate(model, latents, [(local, True)], replace(settings, local=False)) - latents).flatten(1)
    assert float(whole[:, ~inside].abs().max()) > 0.1
    # each direction is local where the region alone places the typical example, and aims at its edit logit
    positives = manipulate(model, latents[:8], [(local, True)], replace(settings, strength=4.0))
    inside_score = lambda z: float((z.flatten(1) @ (classifier.weight * region.flatten())).median())
    centre = -(inside_score(positives) + inside_score(latents[:8])) / 2 - classifier.bias  # region's own boundary
    local = replace(local, metadata={**local.metadata, "region": {"offset": centre}})
    (add_local, remove_local), (target, remove_target) = edit_plan(local, positives, latents[:8])
    assert add_local and remove_local
    assert target == pytest.approx(float(local.edit_logit(positives, True).median())) and target >= LOCAL_MARGIN
    assert remove_target == pytest.approx(float((-local.edit_logit(latents[:8], True)).median()))
    outside_wins = replace(local, metadata={**local.metadata, "region": {"offset": -100.0}})  # as hair colour added
    (add_local, remove_local), (add_target, _) = edit_plan(outside_wins, positives, latents[:8])
    assert not add_local and remove_local and add_target == pytest.approx(float(local.logit(positives).median()))
    assert edit_plan(classifier, positives, latents[:8])[0] == (False, False)  # no region: whole latent
    positives_only = edit_plan(local, positives, latents[:0])
    assert positives_only[1][1] == pytest.approx(positives_only[1][0])  # removal mirrors the positives
    # tuning a local edit scores the part of the logit it can move
    strength, reached = tune_strength(model, local, latents[:8], target, replace(settings, local=True))
    assert reached >= target or strength == STRENGTH_GRID[-1]
    recorded = tuned_metadata(settings, 1.0, (strength, reached, 8), (1.0, None, 0), targets=(target, 0.0),
                              local=(True, False))
    assert recorded["defaults"]["local"] and not recorded["remove_defaults"]["local"]
    assert recorded["tuning"]["targets"] == [round(target, 3), 0.0]
    tuned = replace(local, metadata={**local.metadata, **recorded})
    assert default_settings([(tuned, True)]).local and not default_settings([(tuned, False)]).local
    assert not default_settings([(tuned, True), (tuned, False)]).local  # local only when every condition is


def test_a_local_edit_changes_only_the_pixels_of_its_region(trained):
    model, latents, classifier = trained
    region = torch.zeros(latents.shape[1:])
    region[:, 0] = 1  # the top row of latent cells
    local = replace(classifier, region=region.flatten(), metadata={**classifier.metadata, "region": {"offset": 0.0}})
    images = model.decode(latents[:4])
    settings = ManipulationSettings(strength=4.0, alpha=1.0, local=True)
    before, after, _ = edit_images(model, images, [(local, True)], settings)
    footprint = edit_footprint([(local, True)], settings, "paper", images.shape[-1])
    outside = footprint == 0
    assert outside.any() and float((after - before)[..., outside].abs().max()) == 0.0
    assert float((after - before)[..., footprint > 0.99].abs().max()) > 0.01
    # the decoder spreads the region's change beyond its pixels: without the footprint it reaches them
    unmasked = model.decode(manipulate(model, model.encode(images), [(local, True)], settings))
    assert float((unmasked - before)[..., outside].abs().max()) > 0.01
    # whole-latent edits, other modes and attributes without a region may change the whole frame
    assert edit_footprint([(local, True)], replace(settings, local=False), "paper", 32) is None
    assert edit_footprint([(local, True)], settings, "fast", 32) is None
    assert edit_footprint([(local, True), (classifier, False)], settings, "paper", 32) is None


def test_fast_and_uncorrected_modes_reach_the_target(trained):
    model, latents, classifier = trained
    for mode in ("fast", "no_correction"):
        edited = manipulate(model, latents, [(classifier, True)], ManipulationSettings(strength=1.0), mode=mode)
        assert (classifier.probability(edited) > 0.5).float().mean() >= 0.9, mode


def test_negation_and_composition(trained):
    model, latents, classifier = trained
    blond = manipulate(model, latents, [(classifier, True)], ManipulationSettings(strength=1.0), mode="no_correction")
    back = manipulate(model, blond, [(classifier, False)], ManipulationSettings(strength=1.0), mode="no_correction")
    assert (classifier.probability(back) < 0.5).all()
    # a second, orthogonal toy attribute: both must hold after one composed edit
    generator = torch.Generator().manual_seed(3)
    direction = torch.randn(latents[0].numel(), generator=generator)
    direction -= direction @ classifier.weight / classifier.weight.pow(2).sum() * classifier.weight
    other = type(classifier)("other", "binary", direction, 0.0, classifier.latent_shape, {})
    both = manipulate(
        model, latents, [(classifier, True), (other, False)], ManipulationSettings(strength=1.0), mode="no_correction"
    )
    assert (classifier.probability(both) > 0.5).all() and (other.probability(both, target=False) > 0.5).all()


def test_rejection_sampling_honours_budget_and_reports_acceptance(trained):
    model, _, classifier = trained
    result = rejection_sample(model, [(classifier, True)], count=1000, budget=40, batch_size=16, sharpness=1.0, steps=5)
    assert result.drawn == 40 and 0 < result.accepted <= 40
    assert result.acceptance == pytest.approx(result.accepted / 40)
    faces = generate(model, [(classifier, True)], count=3, budget=64, seed=1, sharpness=1.0)
    assert len(faces.latents) <= 3 and 0 < faces.acceptance <= 1
    assert torch.allclose(faces.images, model.decode(faces.latents))  # the images are the accepted draws decoded


def test_sharper_acceptance_keeps_a_subset_of_the_same_draws(trained):
    model, _, classifier = trained
    soft, sharp = (
        rejection_sample(model, [(classifier, True)], count=1000, budget=64, sharpness=k, steps=3, seed=2)
        for k in (1.0, 4.0)
    )
    assert sharp.accepted < soft.accepted
    assert all((soft.latents == latent).all(dim=(1, 2, 3)).any() for latent in sharp.latents)


def test_rejection_sampling_judges_each_draw_by_its_decoded_image(trained, monkeypatch):
    model, latents, classifier = trained
    # rejects every raw draw, accepts every latent on the blond side of the boundary
    shifted = type(classifier)("shifted", "binary", classifier.weight, -40.0, classifier.latent_shape, {})
    blond = latents[:1] + 60.0 * classifier.weight.reshape(latents.shape[1:]) / classifier.weight.norm() ** 2
    assert shifted.logit(blond) > 10
    monkeypatch.setattr(model, "encode", lambda images: blond.expand(len(images), *blond.shape[1:]))
    result = rejection_sample(model, [(shifted, True)], count=5, budget=10, batch_size=5, steps=3)
    assert result.accepted == 5 and result.drawn == 5


def test_a_one_face_job_draws_a_small_batch_then_what_acceptance_says_is_missing(trained):
    model, _, classifier = trained
    certain = type(classifier)("certain", "binary", classifier.weight * 0, 40.0, classifier.latent_shape, {})
    assert rejection_sample(model, [(certain, True)], count=1, budget=640, steps=3).drawn == MIN_DRAWS
    # acceptance one half: after a first batch sized for a quarter, it asks for about twice the faces still missing
    even = type(classifier)("even", "binary", classifier.weight * 0, 0.0, classifier.latent_shape, {})
    result = rejection_sample(model, [(even, True)], count=6, budget=640, sharpness=1.0, steps=3, seed=1)
    assert result.accepted >= 6 and result.drawn < 64


def test_zero_acceptance_fails_clearly(trained):
    model, _, classifier = trained
    impossible = type(classifier)("impossible", "binary", classifier.weight * 0, -50.0, classifier.latent_shape, {})
    with pytest.raises(NoSampleAccepted, match="budget of 20"):
        rejection_sample(model, [(impossible, True)], count=2, budget=20, batch_size=10, steps=3)


def test_bad_inputs_are_clear_errors(trained):
    model, latents, classifier = trained
    with pytest.raises(ValueError, match="at least one condition"):
        manipulate(model, latents, [])
    with pytest.raises(ValueError, match="do not match"):
        manipulate(model, torch.randn(2, 8, 16, 16), [(classifier, True)])
    with pytest.raises(ValueError, match="NaN"):
        manipulate(model, torch.full_like(latents, float("nan")), [(classifier, True)])
    with pytest.raises(ValueError, match="unknown manipulation mode"):
        manipulate(model, latents, [(classifier, True)], mode="magic")
