import pytest
import torch
from PIL import Image

from model.data import DatasetError, load_dataset
from tests.tiny_data import ATTRIBUTES, write_original_celeba


def test_celeba64_layout_loads_split_labels_and_ids(celeba64_dir):
    train = load_dataset(celeba64_dir, split="train", resolution=32)
    test = load_dataset(celeba64_dir, split="test", resolution=32)
    assert (len(train), len(test)) == (18, 6)
    assert train.images.shape == (18, 3, 32, 32) and train.images.dtype == torch.uint8
    assert train.attribute_names == ATTRIBUTES and train.layout == "celeba64"
    assert train.attribute("Blond_Hair").tolist()[:4] == [0, 1, 0, 1]
    only = load_dataset(celeba64_dir, split="train", resolution=32, ids={"000002", "000005"})
    assert only.ids == ["000002", "000005"]


def test_original_celeba_layout_is_cut_with_the_standard_box(tmp_path):
    root = write_original_celeba(tmp_path / "celeba")
    dataset = load_dataset(root, resolution=32)
    assert dataset.layout == "celeba" and len(dataset) == 6
    assert dataset.attribute("Male").tolist() == [0, 0, 1, 1, 0, 0]
    # the frame outside the box is black; a correct crop holds only the synthetic face's bright colours
    assert dataset.images.float().mean() > 60
    assert len(load_dataset(root, split="test", resolution=32)) == 2


def test_plain_folder_is_unlabeled_and_centre_cropped(tmp_path):
    (tmp_path / "faces" / "nested").mkdir(parents=True)
    Image.new("RGB", (80, 40), (255, 0, 0)).save(tmp_path / "faces" / "a.png")
    Image.new("RGB", (50, 50), (0, 255, 0)).save(tmp_path / "faces" / "nested" / "b.jpg")
    dataset = load_dataset(tmp_path / "faces", resolution=32)
    assert dataset.layout == "folder" and dataset.attributes is None and len(dataset) == 2
    with pytest.raises(DatasetError, match="no attribute labels"):
        dataset.attribute("Male")


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_dataset(tmp_path / "nowhere")


def test_folder_without_images_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no faces here")
    with pytest.raises(DatasetError, match="no images found"):
        load_dataset(tmp_path / "empty")


def test_corrupt_image_names_the_file(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not a jpeg")
    with pytest.raises(DatasetError, match="broken.jpg"):
        load_dataset(tmp_path / "bad")


def test_unknown_split_is_a_clear_error(celeba64_dir):
    with pytest.raises(DatasetError, match="no rows for split 'valid'"):
        load_dataset(celeba64_dir, split="valid")
