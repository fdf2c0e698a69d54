import torch

from model.attributes import fit_binary, fit_pu
from model.checkpoint import load_model, save_head, save_model
from model.d2c import D2C
from model.networks import Denoiser, ProjectionHead
from model.teacher import HIDDEN_WEIGHT, LOGIT_SPREAD, PRIOR_ALPHA, PRIOR_WEIGHT, Teacher, load_teacher
from tests.tiny_data import tiny_model_config

SHAPE = (4, 4, 4)
DIM = 64


def planted_head(direction: torch.Tensor, hidden: int = 8, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A head whose first hidden unit reads the latent along `direction` (steeply); the others are random."""
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(hidden, DIM, generator=generator) / DIM**0.5
    weight[0] = 6 * direction
    return weight, torch.zeros(hidden)


def labelled(count: int, direction: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    latents = torch.randn(count, *SHAPE, generator=torch.Generator().manual_seed(seed))
    return latents, (latents.flatten(1) @ direction > 0).float()


def test_teacher_features_put_the_head_beside_the_latent_at_the_set_weight():
    weight, bias = planted_head(torch.nn.functional.normalize(torch.randn(DIM), dim=0))
    pool = torch.randn(500, *SHAPE)
    teacher = Teacher(weight, bias, pool)
    features = teacher(pool.clone())  # a copy is computed afresh; the pool itself is served from the cache
    torch.testing.assert_close(teacher.pool_features, features)
    assert teacher(pool) is teacher.pool_features
    assert features.shape == (500, DIM + 8)
    torch.testing.assert_close(features[:, :DIM], pool.flatten(1))
    ratio = features[:, DIM:].norm(dim=1).mean() / pool.flatten(1).norm(dim=1).mean()
    assert abs(float(ratio) - HIDDEN_WEIGHT) < 1e-4


def test_the_trained_head_is_saved_beside_a_checkpoint_and_loaded_as_the_teacher_with_its_prior(tmp_path):
    config = tiny_model_config()
    pool = torch.randn(32, *config.latent_shape)
    save_model(tmp_path, D2C(config))
    assert load_teacher(tmp_path, pool) is None  # a checkpoint without a head fits without a teacher
    head = ProjectionHead(config)
    save_head(tmp_path, head.state_dict())
    teacher = load_teacher(tmp_path, pool)
    torch.testing.assert_close(teacher.weight, head.mlp[0].weight.detach())
    with torch.no_grad():
        hidden = torch.nn.functional.silu(head.mlp[0](pool.flatten(1)))
        alpha = torch.full((len(pool),), PRIOR_ALPHA)
        prior = load_model(tmp_path).denoiser.bottleneck(PRIOR_ALPHA**0.5 * pool, alpha).flatten(1)
    dim, hidden_end = pool[0].numel(), pool[0].numel() + hidden.shape[1]
    torch.testing.assert_close(teacher(pool)[:, dim:hidden_end], teacher.scale * hidden, rtol=1e-4, atol=1e-5)
    expected = teacher.prior_scale * (prior - prior.mean(dim=0))
    torch.testing.assert_close(teacher(pool)[:, hidden_end:], expected, rtol=1e-4, atol=1e-5)


def test_the_prior_features_are_the_denoiser_bottleneck_at_the_set_weight():
    config = tiny_model_config()
    torch.manual_seed(0)
    denoiser = Denoiser(config)
    pool = torch.randn(300, *config.latent_shape)
    weight, bias = torch.randn(8, pool[0].numel()), torch.zeros(8)
    teacher = Teacher(weight, bias, pool, denoiser)
    latent_norm = pool.flatten(1).norm(dim=1).mean()
    bottleneck_size = denoiser.bottleneck(pool[:1], torch.ones(1)).numel()
    assert teacher.pool_features.shape == (300, pool[0].numel() + 8 + bottleneck_size)
    prior = teacher.pool_features[:, pool[0].numel() + 8 :]
    torch.testing.assert_close(prior.mean(dim=0), torch.zeros(bottleneck_size), atol=1e-4, rtol=0)
    assert abs(float(prior.norm(dim=1).mean() / latent_norm) - PRIOR_WEIGHT) < 1e-4
    # examples get the same map as the pool: a copy of part of the pool is computed afresh and matches
    torch.testing.assert_close(teacher(pool[:50].clone()), teacher.pool_features[:50], rtol=1e-4, atol=1e-4)


def test_a_teacher_that_sees_the_attribute_makes_a_better_linear_classifier_from_few_examples():
    direction = torch.nn.functional.normalize(torch.randn(DIM, generator=torch.Generator().manual_seed(5)), dim=0)
    pool = torch.randn(2000, *SHAPE, generator=torch.Generator().manual_seed(6))
    teacher = Teacher(*planted_head(direction), pool)
    examples, labels = labelled(24, direction, seed=7)
    positives, negatives = examples[labels == 1], examples[labels == 0]
    test, truth = labelled(2000, direction, seed=8)

    def accuracy(classifier) -> float:
        return float(((classifier.logit(test) > 0).float() == truth).float().mean())

    plain = fit_binary("plain", positives, negatives)
    taught = fit_binary("taught", positives, negatives, pool=pool, teacher=teacher)
    # the student is an ordinary linear r(c|z): same shapes and serialisation as any binary classifier
    assert taught.weight.shape == (DIM,) and taught.kind == "binary"
    assert taught.metadata["teacher"]["pool_agreement"] > 0.7
    assert accuracy(taught) > accuracy(plain) + 0.15  # measured 0.78 against 0.59 (the teacher itself: 0.89)


def test_distilling_a_teacher_that_reads_only_the_latent_gives_back_its_boundary_at_the_set_spread():
    pool = torch.randn(3000, *SHAPE, generator=torch.Generator().manual_seed(9))
    teacher = Teacher(*planted_head(torch.nn.functional.normalize(torch.randn(DIM), dim=0)), pool)
    latent_weight = torch.randn(DIM, generator=torch.Generator().manual_seed(10))
    weight, bias, agreement = teacher.distill(torch.cat([latent_weight, torch.zeros(8)]), 3.0)
    assert agreement > 0.99
    assert torch.nn.functional.cosine_similarity(weight, latent_weight, dim=0) > 0.999
    scale = float(weight.norm() / latent_weight.norm())
    assert abs(bias / scale - 3.0) < 0.1  # the same boundary
    assert abs(float((pool.flatten(1) @ weight + bias).std()) - LOGIT_SPREAD) < 1e-3


def test_a_teacher_makes_a_better_positive_unlabeled_classifier_too():
    direction = torch.nn.functional.normalize(torch.randn(DIM, generator=torch.Generator().manual_seed(11)), dim=0)
    pool = torch.randn(2000, *SHAPE, generator=torch.Generator().manual_seed(12))
    teacher = Teacher(*planted_head(direction), pool)
    examples, labels = labelled(60, direction, seed=13)
    positives = examples[labels == 1]
    test, truth = labelled(2000, direction, seed=14)

    def accuracy(classifier) -> float:
        return float(((classifier.logit(test) > 0).float() == truth).float().mean())

    plain, taught = fit_pu("plain", positives, pool), fit_pu("taught", positives, pool, teacher=teacher)
    assert taught.weight.shape == (DIM,) and "teacher" in taught.metadata and "teacher" not in plain.metadata
    assert accuracy(taught) > accuracy(plain) + 0.1  # measured 0.86 against 0.63
