import torch

from model.data import FaceDataset
from pipelines.builtins import BUILTINS, LABELS_HELD, correlated_labels


def test_the_labels_held_are_those_that_go_with_the_attribute_among_its_examples():
    generator = torch.Generator().manual_seed(0)
    glasses = (torch.arange(100) < 50).to(torch.int8)
    # age goes with glasses in 80 of 100 examples, smiling by chance
    older = torch.where(torch.rand(100, generator=generator) < 0.8, glasses, 1 - glasses)
    smiling = (torch.rand(100, generator=generator) < 0.5).to(torch.int8)
    examples = FaceDataset(
        images=torch.zeros(100, 3, 4, 4, dtype=torch.uint8),
        ids=[str(i) for i in range(100)],
        attribute_names=["Eyeglasses", "Young", "Smiling", "Bald"],
        attributes=torch.stack([glasses, 1 - older, smiling, torch.zeros(100, dtype=torch.int8)], dim=1),
    )
    assert correlated_labels(examples, "Eyeglasses") == ["Young"]  # a negative correlation counts; a constant not
    assert correlated_labels(examples, "Eyeglasses", threshold=0.0) == ["Young", "Smiling", "Bald"]
    assert LABELS_HELD <= BUILTINS.keys()  # binary built-ins: a PU one has no negatives to regress on
