"""Data augmentation on NumPy batches: images ``(N, C, H, W)`` or one image ``(C, H, W)``.

Every transform returns a new float array (float32 stays float32, integer input becomes
float32) and never modifies its input. Random transforms draw from ``seed``: an int (own,
reproducible stream), a ``numpy.random.Generator``, or ``None`` for chainrule's global
generator (reset by ``chainrule.manual_seed``). Each image of a batch gets its own random
parameters; geometric transforms resample the whole batch at once (no loop over images).

Conventions: positive rotation angles turn the image counter-clockwise as displayed (row 0 at
the top), like ``np.rot90`` and torchvision's ``rotate``. Pixel ``(i, j)`` is the point
``x = j, y = i``; rotations, scaling and shear act about the image centre.

1-D signals ``(N, L)`` work with ``RandomHorizontalFlip``, ``GaussianNoise`` and
``RandomShift1d`` (which also takes ``(N, C, L)``).

``MixUp`` and ``CutMix`` work on whole batches and are called as ``transform(images, labels)``;
they have ``batch_pair = True`` so that ``DataLoader`` and ``Compose`` pass them both.
"""

from chainrule.data.transforms.base import Compose, Normalize, RandomTransform
from chainrule.data.transforms.geometric import (
    RandomAffine, RandomCrop, RandomHorizontalFlip, RandomResizedCrop, RandomRotation,
    RandomVerticalFlip, Resize,
)
from chainrule.data.transforms.mix import CutMix, MixUp
from chainrule.data.transforms.pixel import GaussianNoise, RandomErasing, RandomShift1d

__all__ = [
    "Compose", "Normalize", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation",
    "RandomAffine", "RandomResizedCrop", "Resize", "RandomCrop", "GaussianNoise",
    "RandomErasing", "RandomShift1d", "MixUp", "CutMix", "RandomTransform",
]
