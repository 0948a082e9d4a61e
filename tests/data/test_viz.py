"""Pictures of data (chainrule/data/viz.py): show_augmentations writes a PNG of images, arrays
and mixed batches."""

import pytest

from chainrule.data import datasets, show_augmentations
from chainrule.data import transforms as T


def test_show_augmentations_writes_png(tmp_path):
    train, _ = datasets.digits()
    path = show_augmentations(train, T.RandomRotation(20, seed=0), tmp_path / "sub" / "a.png", n=4)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    array_path = show_augmentations(train.arrays[0][:10], T.GaussianNoise(0.1, seed=0),
                                    tmp_path / "b.png", n=3, copies=1)
    assert array_path.stat().st_size > 1000
    mix = show_augmentations(train, T.MixUp(1.0, num_classes=10, seed=0), tmp_path / "c.png", n=3)
    assert mix.exists()
    with pytest.raises(ValueError, match="labels"):
        show_augmentations(train.arrays[0], T.MixUp(1.0, num_classes=10), tmp_path / "d.png")
