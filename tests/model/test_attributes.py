import math

import pytest
import torch
from torch.nn import functional as F

from model.attributes import (
    FOOTPRINT_FEATHER,
    FOOTPRINT_GROW,
    NEWTON_ROWS,
    REGION_THRESHOLD,
    AttributeClassifier,
    AttributeDefinitionError,
    _logistic_many,
    _logistic_newton,
    check_name,
    conditional_class_difference,
    fit_binary,
    fit_pu,
    latent_covariance,
    load_skin_readout,
    pool_class_difference,
    pool_prevalence,
    region_footprint,
    save_skin_readout,
    skin_readout,
    with_labels_held,
    with_region,
)

SHAPE = (4, 4, 4)


def toy_latents(count: int, shift: float, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    latents = torch.randn(count, *SHAPE, generator=generator)
    latents[:, 0, 0, 0] += shift  # the class lives along one coordinate
    return latents


def penalised_losses(features, labels, weights, l2, weight, bias):
    """(M,) sum_i c_mi BCE(w_m . x_i + b_m, y_i) + l2_m |w_m|^2 / 2, the objective every fit minimises."""
    logits = weight @ features.t() + bias[:, None]
    losses = F.binary_cross_entropy_with_logits(logits, labels.expand_as(logits), reduction="none")
    return (weights * losses).sum(dim=1) + 0.5 * l2 * weight.pow(2).sum(dim=1)


def balanced_weights(masks, labels):
    """Each model's example weights: its mask, each class carrying half of a total of 1."""
    positive, negative = masks * labels, masks * (1 - labels)
    return (positive / positive.sum(dim=1, keepdim=True) + negative / negative.sum(dim=1, keepdim=True)) / 2


def gradient_norms(features, labels, weights, l2, weight, bias):
    """(M,) norm of the objective's gradient in (w_m, b_m), in float64."""
    features, labels, weights, l2 = (tensor.double() for tensor in (features, labels, weights, l2))
    weight, bias = weight.double().requires_grad_(), bias.double().requires_grad_()
    penalised_losses(features, labels, weights, l2, weight, bias).sum().backward()
    return torch.cat([weight.grad, bias.grad[:, None]], dim=1).norm(dim=1)


def reference_fit(features, labels, weights, l2):
    """The same objective minimised by a generic optimizer: float64 L-BFGS, run until it stalls (~3e-5 off)."""
    features, labels, weights, l2 = (tensor.double() for tensor in (features, labels, weights, l2))
    weight = torch.zeros(len(weights), features.shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(len(weights), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS(
        [weight, bias],
        max_iter=1000,
        tolerance_grad=1e-10,
        tolerance_change=1e-14,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure():
        optimizer.zero_grad()
        loss = penalised_losses(features, labels, weights, l2, weight, bias).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    assert float(gradient_norms(features, labels, weights, l2, weight.detach(), bias.detach()).max()) < 1e-6
    return weight.detach(), bias.detach()


def masked_problem(rows: int, size: int, seed: int):
    """Features with a class signal, a third of the rows positive, and 3 models: two with rows held out."""
    generator = torch.Generator().manual_seed(seed)
    labels = (torch.arange(rows) % 3 == 0).float()
    features = torch.randn(rows, size, generator=generator) + labels[:, None]
    masks = torch.ones(3, rows)
    masks[0, :5], masks[1, -7:] = 0, 0
    return features, labels, masks, torch.tensor([1e-2, 1e-1, 1.0])  # at 1e-3 the reference takes 1,000s of steps


def assert_fits_the_reference(features, labels, weights, l2):
    weight, bias = _logistic_newton(features, labels, weights, l2)
    assert weight.dtype == bias.dtype == torch.float32
    assert weight.shape == (len(weights), features.shape[1]) and bias.shape == (len(weights),)
    expected_weight, expected_bias = reference_fit(features, labels, weights, l2)
    torch.testing.assert_close(weight.double(), expected_weight, atol=1e-4, rtol=0)
    torch.testing.assert_close(bias.double(), expected_bias, atol=1e-4, rtol=0)
    # and much closer to the optimum than the reference gets: the gradient is all but zero
    at_zero = gradient_norms(features, labels, weights, l2, torch.zeros_like(weight), torch.zeros_like(bias))
    assert (gradient_norms(features, labels, weights, l2, weight, bias) < 1e-6 * at_zero).all()


@pytest.mark.parametrize(("rows", "size"), [(12, 20), (40, 6)])  # fewer rows than features, and more
def test_newton_in_the_span_of_the_rows_finds_what_a_generic_optimizer_finds(rows, size):
    features, labels, masks, l2 = masked_problem(rows, size, seed=rows)
    assert_fits_the_reference(features, labels, balanced_weights(masks, labels), l2)


def test_newton_halves_the_steps_that_would_overshoot():
    # noise labels on widely spread features, nearly separable at l2 = 1e-3: on this draw full Newton steps from
    # zero overflow the logits (the next system is NaN); halved ones converge
    generator = torch.Generator().manual_seed(1)
    labels = (torch.rand(30, generator=generator) < 0.5).float()
    features = 20 * torch.randn(30, 17, generator=generator)
    assert_fits_the_reference(features, labels, torch.full((1, 30), 1 / 30), torch.tensor([1e-3]))


def test_cross_validation_fits_end_at_a_zero_gradient():
    # the shape of a definition with the teacher: 100 examples and their mirrors, 1,536 features, 5 folds
    generator = torch.Generator().manual_seed(0)
    labels = torch.cat([torch.ones(30), torch.zeros(70)]).repeat(2)
    features = torch.randn(200, 1536, generator=generator) + 0.1 * labels[:, None] + 0.5
    masks = torch.ones(5, 200)
    for fold in range(5):
        masks[fold, fold * 20 : fold * 20 + 20] = masks[fold, 100 + fold * 20 : 120 + fold * 20] = 0
    assert 200**2 <= NEWTON_ROWS * 1536
    weights = balanced_weights(masks, labels)
    for l2 in (1e-3, 1.0):
        strengths = torch.full((5,), l2)
        weight, bias = _logistic_many(features, labels, masks, strengths, balanced=True)
        at_zero = gradient_norms(features, labels, weights, strengths, torch.zeros_like(weight), torch.zeros(5))
        assert (gradient_norms(features, labels, weights, strengths, weight, bias) < 1e-6 * at_zero).all()
        # a held-out row does not count: relabelling it changes nothing
        held_out = masks[0] == 0
        relabelled = torch.where(held_out, 1 - labels, labels)
        again, _ = _logistic_many(features, relabelled, masks[:1], strengths[:1], balanced=True)
        torch.testing.assert_close(again[0], weight[0], atol=1e-6, rtol=0)


def test_rows_beyond_the_newton_limit_are_fitted_by_lbfgs_to_the_same_solution():
    features, labels, masks, l2 = masked_problem(60, 8, seed=2)
    assert 60**2 > NEWTON_ROWS * 8
    weight, bias = _logistic_many(features, labels, masks, l2, balanced=True)
    newton_weight, newton_bias = _logistic_newton(features, labels, balanced_weights(masks, labels), l2)
    # as close as float32 L-BFGS gets in its 200 iterations
    torch.testing.assert_close(weight, newton_weight, atol=3e-3, rtol=0)
    torch.testing.assert_close(bias, newton_bias, atol=3e-3, rtol=0)
    logits, newton_logits = weight @ features.t() + bias[:, None], newton_weight @ features.t() + newton_bias[:, None]
    assert torch.equal(logits > 0, newton_logits > 0)


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


def test_holding_a_correlated_label_takes_what_it_changes_out_of_the_edit_direction():
    generator = torch.Generator().manual_seed(2)
    labels = (torch.rand(400, generator=generator) < 0.5).float()
    # a second label (age, say) that goes with the attribute in 80% of the examples and moves another coordinate
    older = torch.where(torch.rand(400, generator=generator) < 0.8, labels, 1 - labels)
    latents = torch.randn(400, *SHAPE, generator=generator) * 0.1
    latents[:, 0, 0, 0] += 2 * labels
    latents[:, 1, 0, 0] += 3 * older
    marginal = latents[labels == 1].mean(0) - latents[labels == 0].mean(0)
    held = conditional_class_difference(latents, labels, older[:, None]).reshape(SHAPE)
    assert float(marginal[1, 0, 0]) > 1.5  # the plain class means carry the correlated label's change
    assert abs(float(held[1, 0, 0])) < 0.1 and abs(float(held[0, 0, 0]) - 2) < 0.1
    # the classifier keeps its w and b, edits along the held difference and re-cuts its region from it
    pool = torch.randn(4000, *SHAPE, generator=generator)
    covariance = latent_covariance(pool)
    fitted = fit_binary("aged", latents[labels == 1], latents[labels == 0], covariance=covariance, pool=pool)
    changed = with_labels_held(fitted, latents, labels, older[:, None], covariance, pool)
    assert torch.equal(changed.weight, fitted.weight) and changed.bias == fitted.bias
    assert changed.metadata["edit_metric"] == "class means with 1 labels held"
    assert abs(float(changed.edit_direction.reshape(SHAPE)[1, 0, 0])) < 0.1 * float(changed.edit_direction.norm())
    assert changed.region.reshape(SHAPE)[:, 0, 0].eq(1).all()
    assert changed.metadata["region"]["threshold"] == fitted.metadata["region"]["threshold"]
    with pytest.raises(AttributeDefinitionError, match="one row per example"):
        with_labels_held(fitted, latents, labels[:10], older[:, None], covariance, pool)


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



def test_a_lower_region_cut_takes_the_weaker_cells_too_and_leaves_the_fitted_classifier_as_it_was():
    generator = torch.Generator().manual_seed(4)
    pool = torch.randn(4000, *SHAPE, generator=generator)
    has = torch.rand(4000, generator=generator) < 0.3
    pool[has, :, 1, 2] += 2.0  # a strong cell
    pool[has, :, 3, 0] += 0.8  # and a weaker one, as hair spreads beyond its strongest cells
    fitted = fit_binary("spread", pool[has][:50], pool[~has][:50], covariance=latent_covariance(pool), pool=pool)
    region = fitted.region.clone()
    default, wider = with_region(fitted, pool, REGION_THRESHOLD), with_region(fitted, pool, 0.0)
    assert torch.equal(default.region, region) and default.metadata["region"] == fitted.metadata["region"]
    assert wider.metadata["region"]["cells"] == 16 and wider.metadata["region"]["threshold"] == 0.0
    assert bool((wider.region >= region).all()) and wider.region.sum() > region.sum()
    assert torch.equal(fitted.region, region) and fitted.metadata["region"]["threshold"] == REGION_THRESHOLD
    # the whole-latent cut holds nothing outside the region: the edit logit is the plain logit
    latents = toy_latents(8, 0.0, 9)
    torch.testing.assert_close(wider.edit_logit(latents, True), wider.logit(latents), atol=1e-4, rtol=0)
    flat = AttributeClassifier("flat", "binary", fitted.weight, fitted.bias, SHAPE)
    assert with_region(flat, pool, 1.0) is flat  # no region (as for latents without two spatial axes) stays none

def test_a_region_footprint_covers_its_cells_pixels_and_fades_to_zero_beyond():
    region = torch.zeros(16, 8, 8)
    region[:, 0] = 1  # the top row of cells: pixel rows 0-7 of a 64-pixel frame
    footprint = region_footprint(region.flatten(), (16, 8, 8), 64)
    assert footprint.shape == (64, 64)
    assert float(footprint[:5].min()) > 0.99  # the cells' own pixels, away from the feathered edge
    grown, feather = round(FOOTPRINT_GROW * 64), FOOTPRINT_FEATHER * 64
    assert float(footprint[8 + grown + math.ceil(3 * feather) :].max()) == 0.0  # nothing past the grown, feathered edge
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
