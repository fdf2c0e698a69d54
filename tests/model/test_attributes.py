import math

import pytest
import torch

from model.attributes import (
    FOOTPRINT_FEATHER,
    FOOTPRINT_GROW,
    AttributeClassifier,
    AttributeDefinitionError,
    check_name,
    fit_binary,
    fit_pu,
    latent_covariance,
    load_skin_readout,
    pool_class_difference,
    pool_prevalence,
    region_footprint,
    save_skin_readout,
    skin_readout,
)

SHAPE = (4, 4, 4)


def toy_latents(count: int, shift: float, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    latents = torch.randn(count, *SHAPE, generator=generator)
    latents[:, 0, 0, 0] += shift  # the class lives along one coordinate
    return latents


def test_binary_fit_separates_toy_latents():
    classifier = fit_binary("toy", toy_latents(50, 3.0, 0), toy_latents(50, -3.0, 1))
    assert classifier.kind == "binary" and classifier.metadata["cv_accuracy"] > 0.9
    positive, negative = toy_latents(200, 3.0, 2), toy_latents(200, -3.0, 3)
    accuracy = (
        (classifier.probability(positive) > 0.5).float().mean()
        + (classifier.probability(negative) < 0.5).float().mean()
    ) / 2
    assert accuracy > 0.95
    assert torch.allclose(
        classifier.probability(positive, True) + classifier.probability(positive, False), torch.ones(200), atol=1e-5
    )


@pytest.mark.parametrize("prior", [0.2, 0.5])
def test_pu_recovers_a_known_class_prior(prior):
    count = 2000
    positives_in_pool = int(prior * count)
    pool = torch.cat([toy_latents(positives_in_pool, 4.0, 10), toy_latents(count - positives_in_pool, -4.0, 11)])
    classifier = fit_pu("toy_pu", toy_latents(100, 4.0, 12), pool)
    assert classifier.kind == "pu"
    assert abs(classifier.metadata["class_prior"] - prior) < 0.08
    assert (classifier.probability(toy_latents(100, 4.0, 13)) > 0.5).float().mean() > 0.95
    assert (classifier.probability(toy_latents(100, -4.0, 14)) > 0.5).float().mean() < 0.05


def test_pu_scores_stay_on_the_scale_of_a_binary_classifier():
    # a score that keeps growing on the positives sets an edit target no edit reaches (the unbiased PU risk put
    # this toy's positives at a median logit of 14, a binary fit on the same classes at 1.9)
    pool = torch.cat([toy_latents(600, 4.0, 10), toy_latents(1400, -4.0, 11)])
    pu = fit_pu("toy_pu", toy_latents(100, 4.0, 12), pool)
    binary = fit_binary("toy", toy_latents(100, 4.0, 12), toy_latents(100, -4.0, 13))
    fresh = toy_latents(500, 4.0, 14)
    assert float(pu.logit(fresh).median()) < 2 * float(binary.logit(fresh).median())
    assert (pu.logit(fresh) > 0).float().mean() > 0.95  # still a classifier: calibrated, not timid


def test_serialization_round_trip(tmp_path):
    classifier = fit_binary("round_trip", toy_latents(20, 2.0, 0), toy_latents(20, -2.0, 1))
    classifier.save(tmp_path)
    loaded = AttributeClassifier.load(tmp_path, "round_trip")
    assert (loaded.name, loaded.kind, loaded.latent_shape) == ("round_trip", "binary", SHAPE)
    assert loaded.metadata["positives"] == 20 and loaded.metadata["cv_accuracy"] == classifier.metadata["cv_accuracy"]
    latents = toy_latents(8, 0.0, 2)
    assert torch.allclose(loaded.log_prob(latents), classifier.log_prob(latents))
    again = AttributeClassifier.from_bytes(*loaded.to_bytes())
    assert torch.equal(again.weight, loaded.weight)


def test_mirror_images_train_but_never_leak_into_cross_validation():
    # labels that are pure noise, and mirrors that are exact twins: a twin left in a training fold would be
    # memorised and score its held-out original right, inflating the CV accuracy towards 1
    latents = torch.randn(60, *SHAPE, generator=torch.Generator().manual_seed(8))
    noise = fit_binary("noise", latents[:30], latents[30:], mirrors=(latents[:30].clone(), latents[30:].clone()))
    assert noise.metadata["mirrored"] is True and noise.metadata["cv_accuracy"] < 0.75
    positives, negatives = toy_latents(30, 3.0, 0), toy_latents(30, -3.0, 1)
    mirrored = fit_binary("toy", positives, negatives, mirrors=(toy_latents(30, 3.0, 2), toy_latents(30, -3.0, 3)))
    assert mirrored.metadata["positives"] == 30 and mirrored.metadata["cv_accuracy"] > 0.9
    with pytest.raises(AttributeDefinitionError, match="one for one"):
        fit_binary("short", positives, negatives, mirrors=(positives[:5], negatives))
    with pytest.raises(AttributeDefinitionError, match="NaN"):
        fit_binary("nan", positives, negatives, mirrors=(torch.full_like(positives, float("nan")), negatives))


def test_edit_direction_follows_the_latent_covariance(tmp_path):
    # latents that vary 10x more along coordinate 1 than along the class coordinate 0
    pool = torch.randn(4000, *SHAPE, generator=torch.Generator().manual_seed(4))
    pool[:, 0, 0, 1] *= 10
    covariance = latent_covariance(pool)
    positives, negatives = toy_latents(40, 3.0, 5), toy_latents(40, -3.0, 6)
    positives[:, 0, 0, 1] += 6  # the attribute also shifts the high-variance coordinate
    euclidean = fit_binary("plain", positives, negatives)
    assert euclidean.direction is None and torch.equal(euclidean.edit_direction, euclidean.weight)
    fitted = fit_binary("metric", positives, negatives, covariance=covariance)
    assert fitted.metadata["edit_metric"] == "covariance"
    assert torch.allclose(fitted.edit_direction, covariance @ fitted.weight)
    # Sigma w leans on the high-variance coordinate much more than w does
    share = lambda vector: float(vector[1].abs() / vector[0].abs())
    assert share(fitted.edit_direction) > 5 * share(fitted.weight)
    fitted.save(tmp_path)
    assert torch.equal(AttributeClassifier.load(tmp_path, "metric").edit_direction, fitted.edit_direction)
    pu = fit_pu("metric_pu", positives, pool)
    assert pu.metadata["edit_metric"] == "covariance" and torch.allclose(
        pu.edit_direction, latent_covariance(pool) @ pu.weight, atol=1e-4
    )
    # the worker passes the covariance it already holds instead of recomputing it from the pool
    assert torch.equal(fit_pu("metric_pu", positives, pool, covariance=covariance).edit_direction, pu.edit_direction)
    with pytest.raises(AttributeDefinitionError, match="covariance of shape"):
        fit_binary("wrong", positives, negatives, covariance=torch.eye(5))


def test_the_pool_prevalence_is_found_from_a_classifier_fitted_on_balanced_classes():
    generator = torch.Generator().manual_seed(0)
    # 1-D classes N(+2, 1) and N(-2, 1): their balanced log-odds are 4x; 10% of the pool is positive
    labels = torch.rand(20000, generator=generator) < 0.1
    values = torch.randn(20000, generator=generator) + torch.where(labels, 2.0, -2.0)
    assert abs(pool_prevalence(4 * values) - 0.1) < 0.01
    assert pool_prevalence(4 * values) < float((4 * values > 0).float().mean()) - 0.01  # raw scores overcount


def test_the_pool_class_means_ignore_what_the_classifier_misreads():
    generator = torch.Generator().manual_seed(1)
    pool = torch.randn(4000, *SHAPE, generator=generator)
    pool[:, 0, 0, 1] *= 10  # a high-variance nuisance (light, say)
    rare = torch.rand(4000, generator=generator) < 0.05
    pool[rare, 0, 0, 0] += 6  # 5% of the faces have the attribute, along coordinate 0
    weight = torch.zeros(pool[0].numel())
    weight[0], weight[1] = 10.0, 0.5  # a classifier that also reads the nuisance a little
    difference = pool_class_difference(weight, -30.0, pool)
    pattern = latent_covariance(pool, shrinkage=0.0) @ weight
    along_the_attribute = lambda vector: float(vector[0].abs() / vector.norm())
    assert along_the_attribute(pattern) < 0.5 and along_the_attribute(difference) > 0.9
    assert abs(float(difference[0]) - 6) < 0.5
    positives, negatives = toy_latents(40, 3.0, 5), toy_latents(40, -3.0, 6)
    fitted = fit_binary("pooled", positives, negatives, covariance=latent_covariance(pool), pool=pool)
    assert fitted.metadata["edit_metric"] == "pool class means"
    assert torch.allclose(fitted.edit_direction, pool_class_difference(fitted.weight, fitted.bias, pool))


def test_the_edit_region_is_the_cells_where_the_attribute_lives(tmp_path):
    generator = torch.Generator().manual_seed(3)
    pool = torch.randn(4000, *SHAPE, generator=generator)
    has = torch.rand(4000, generator=generator) < 0.3
    pool[has, :, 1, 2] += 2.0  # the attribute lives in one cell (row 1, column 2), across its channels
    positives, negatives = pool[has][:50], pool[~has][:50]
    fitted = fit_binary("local", positives, negatives, covariance=latent_covariance(pool), pool=pool)
    region = fitted.region.reshape(SHAPE)
    assert fitted.metadata["region"]["cells"] == 1 and fitted.metadata["region"]["of"] == 16
    assert region[:, 1, 2].eq(1).all() and int(region.sum()) == SHAPE[0]
    local = fitted.direction_for(True)
    assert torch.equal(local[fitted.region == 0], torch.zeros(int((fitted.region == 0).sum())))
    assert torch.equal(fitted.direction_for(False), fitted.edit_direction)
    # the edit logit holds everything outside the region at the pool's mean
    latents = toy_latents(8, 0.0, 9)
    outside_at_mean = torch.where(fitted.region.reshape(SHAPE).bool(), latents, pool.mean(0))
    torch.testing.assert_close(fitted.edit_logit(latents, True), fitted.logit(outside_at_mean), atol=1e-4, rtol=0)
    assert torch.equal(fitted.edit_logit(latents, False), fitted.logit(latents))
    fitted.save(tmp_path)
    loaded = AttributeClassifier.load(tmp_path, "local")
    assert torch.equal(loaded.region, fitted.region) and loaded.metadata["region"] == fitted.metadata["region"]
    pu = fit_pu("local_pu", pool[has][:50], pool)
    assert pu.region.reshape(SHAPE)[:, 1, 2].eq(1).all() and pu.metadata["region"]["cells"] < 16
    # no pool, or latents without two spatial axes: no region, local edits move every value
    assert fit_binary("global", positives, negatives).region is None
    flat = fit_binary("flat", positives.flatten(1), negatives.flatten(1), pool=pool.flatten(1))
    assert flat.region is None and "region" not in flat.metadata
    assert torch.equal(flat.direction_for(True), flat.edit_direction)


def test_a_region_footprint_covers_its_cells_pixels_and_fades_to_zero_beyond():
    region = torch.zeros(16, 8, 8)
    region[:, 0] = 1  # the top row of cells: pixel rows 0-7 of a 64-pixel frame
    footprint = region_footprint(region.flatten(), (16, 8, 8), 64)
    assert footprint.shape == (64, 64)
    assert float(footprint[:5].min()) > 0.99  # the cells' own pixels, away from the feathered edge
    grown, feather = round(FOOTPRINT_GROW * 64), FOOTPRINT_FEATHER * 64
    assert float(footprint[8 + grown + math.ceil(3 * feather):].max()) == 0.0  # nothing past the grown, feathered edge
    rows = footprint[:, 32]
    assert (rows[1:] <= rows[:-1] + 1e-6).all() and 0.1 < float(rows[8 + grown]) < 0.9  # falls off smoothly
    assert torch.allclose(footprint, footprint.flip(1))  # a full row of cells: the same in every column


def test_held_readouts_stay_constant_along_the_edit_direction(tmp_path):
    pool = torch.randn(4000, *SHAPE, generator=torch.Generator().manual_seed(4))
    covariance = latent_covariance(pool)
    positives, negatives = toy_latents(40, 3.0, 5), toy_latents(40, -3.0, 6)
    positives[:, 0, 0, 1] += 2  # the attribute also moves what the readout reads (like blond lightening skin)
    held = torch.zeros(1, pool[0].numel())
    held[0, 1] = 1.0
    free = fit_binary("free", positives, negatives, covariance=covariance)
    kept = fit_binary("kept", positives, negatives, covariance=covariance, held=held)
    assert abs(float(held @ free.edit_direction)) > 0.1
    assert abs(float(held @ kept.edit_direction)) < 1e-5 and kept.metadata["edit_metric"].endswith("held")
    assert float(kept.weight @ kept.edit_direction) > 0  # it still raises the attribute's score
    pu = fit_pu("kept_pu", positives, pool, covariance=covariance, held=held)
    assert abs(float(held @ pu.edit_direction)) < 1e-5
    with pytest.raises(AttributeDefinitionError, match="held readouts"):
        fit_binary("wrong", positives, negatives, held=torch.zeros(1, 5))


def test_skin_readout_recovers_how_latents_paint_the_cheeks(tmp_path):
    generator = torch.Generator().manual_seed(0)
    latents = torch.randn(600, 8, generator=generator)
    painting = torch.randn(3, 8, generator=generator)  # cheek colour is linear in the latent
    images = torch.full((600, 3, 32, 32), 0.5)
    images[:, :, 18:23, 8:13] += 0.05 * (latents @ painting.t())[:, :, None, None]
    images[:, :, 18:23, 19:24] += 0.05 * (latents @ painting.t())[:, :, None, None]
    readout = skin_readout(images, latents, ridge=1e-3)
    assert torch.allclose(readout, 0.05 * painting, atol=2e-3)
    assert load_skin_readout(tmp_path) is None
    save_skin_readout(tmp_path, readout)
    assert torch.equal(load_skin_readout(tmp_path), readout)


def test_bad_definitions_are_clear_errors(tmp_path):
    negatives = toy_latents(10, -2.0, 0)
    with pytest.raises(AttributeDefinitionError, match="at least 2 positive"):
        fit_binary("empty", torch.empty(0, *SHAPE), negatives)
    with pytest.raises(AttributeDefinitionError, match="NaN"):
        fit_binary("nan", torch.full((5, *SHAPE), float("nan")), negatives)
    with pytest.raises(AttributeDefinitionError, match="must match"):
        fit_binary("Bad Name!", toy_latents(5, 2.0, 1), negatives)
    with pytest.raises(AttributeDefinitionError, match="different shapes"):
        fit_binary("shapes", torch.randn(5, 2, 4, 4), negatives)
    classifier = fit_binary("ok", toy_latents(5, 2.0, 1), negatives)
    with pytest.raises(AttributeDefinitionError, match="do not match"):
        classifier.log_prob(torch.randn(3, 8, 4, 4))
    with pytest.raises(AttributeDefinitionError, match="not found"):
        AttributeClassifier.load(tmp_path, "unknown")


@pytest.mark.parametrize(
    "name", ["blond", "wavy_hair2", "a" * 40, "blond\n", "Blond", "", "a" * 41, "rosy-cheeks", "../x"]
)
def test_the_library_and_the_contract_accept_the_same_attribute_names(name):
    from contract.attributes import NAME_PATTERN as CONTRACT_PATTERN

    try:
        check_name(name)
        library_accepts = True
    except AttributeDefinitionError:
        library_accepts = False
    assert library_accepts == bool(CONTRACT_PATTERN.fullmatch(name))
    assert library_accepts == (name in ("blond", "wavy_hair2", "a" * 40))
