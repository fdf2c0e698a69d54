import pytest
import torch

from model.attributes import AttributeDefinitionError, distill, fit_binary, fit_pu
from model.networks import ProjectionHead
from model.teacher import HIDDEN_WEIGHT, TeacherFeatures, load_teacher, save_head
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
    teacher = TeacherFeatures.from_head(weight, bias, pool)
    features = teacher(pool)
    assert features.shape == (500, DIM + 8) and teacher.input_dim == DIM
    torch.testing.assert_close(features[:, :DIM], pool.flatten(1))
    ratio = features[:, DIM:].norm(dim=1).mean() / pool.flatten(1).norm(dim=1).mean()
    assert abs(float(ratio) - HIDDEN_WEIGHT) < 1e-4


def test_the_trained_head_is_saved_beside_a_checkpoint_and_loaded_as_the_teacher(tmp_path):
    pool = torch.randn(32, *tiny_model_config().latent_shape)
    assert load_teacher(tmp_path, pool) is None  # a checkpoint without a head fits without a teacher
    head = ProjectionHead(tiny_model_config())
    save_head(tmp_path, head.state_dict())
    teacher = load_teacher(tmp_path, pool)
    torch.testing.assert_close(teacher.weight, head.mlp[0].weight.detach())
    with torch.no_grad():
        hidden = torch.nn.functional.silu(head.mlp[0](pool.flatten(1)))
    torch.testing.assert_close(teacher(pool)[:, pool[0].numel():], teacher.scale * hidden, rtol=1e-4, atol=1e-5)


def test_a_teacher_that_sees_the_attribute_makes_a_better_linear_classifier_from_few_examples():
    direction = torch.nn.functional.normalize(torch.randn(DIM, generator=torch.Generator().manual_seed(5)), dim=0)
    pool = torch.randn(2000, *SHAPE, generator=torch.Generator().manual_seed(6))
    teacher = TeacherFeatures.from_head(*planted_head(direction), pool)
    examples, labels = labelled(24, direction, seed=7)
    positives, negatives = examples[labels == 1], examples[labels == 0]
    test, truth = labelled(2000, direction, seed=8)

    def accuracy(classifier) -> float:
        return float(((classifier.logit(test) > 0).float() == truth).float().mean())

    plain = fit_binary("plain", positives, negatives)
    taught = fit_binary("taught", positives, negatives, pool=pool, teacher=teacher)
    # the student is an ordinary linear r(c|z): same shapes and serialisation as any binary classifier
    assert taught.weight.shape == (DIM,) and taught.kind == "binary"
    assert taught.metadata["teacher"]["pool_agreement"] > 0.8
    assert accuracy(taught) > 0.8 and accuracy(taught) > accuracy(plain) + 0.15  # measured 0.83 against 0.59


def test_distillation_reproduces_a_linear_teacher():
    pool = torch.randn(3000, *SHAPE, generator=torch.Generator().manual_seed(9))
    teacher_weight = torch.randn(DIM, generator=torch.Generator().manual_seed(10))
    weight, _, agreement = distill(pool.flatten(1) @ teacher_weight + 0.3, pool)
    assert agreement > 0.97
    cosine = torch.nn.functional.cosine_similarity(weight, teacher_weight, dim=0)
    assert cosine > 0.95


def test_a_teacher_without_the_pool_is_a_clear_error():
    weight, bias = planted_head(torch.nn.functional.normalize(torch.randn(DIM), dim=0))
    teacher = TeacherFeatures(weight, bias, 1.0)
    with pytest.raises(AttributeDefinitionError, match="pool"):
        fit_binary("taught", torch.randn(4, *SHAPE) + 1, torch.randn(4, *SHAPE), teacher=teacher)


def test_a_teacher_makes_a_better_positive_unlabeled_classifier_too():
    direction = torch.nn.functional.normalize(torch.randn(DIM, generator=torch.Generator().manual_seed(11)), dim=0)
    pool = torch.randn(2000, *SHAPE, generator=torch.Generator().manual_seed(12))
    teacher = TeacherFeatures.from_head(*planted_head(direction), pool)
    examples, labels = labelled(60, direction, seed=13)
    positives = examples[labels == 1]
    test, truth = labelled(2000, direction, seed=14)

    def accuracy(classifier) -> float:
        return float(((classifier.logit(test) > 0).float() == truth).float().mean())

    plain, taught = fit_pu("plain", positives, pool), fit_pu("taught", positives, pool, teacher=teacher)
    assert taught.weight.shape == (DIM,) and "teacher" in taught.metadata and "teacher" not in plain.metadata
    assert accuracy(taught) > accuracy(plain) + 0.1  # measured 0.85 against 0.63
