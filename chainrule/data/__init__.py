"""Data: datasets, the DataLoader, augmentation transforms and PCA.

Example:
    >>> from chainrule.data import DataLoader, datasets, transforms
    >>> train, test = datasets.digits()
    >>> augment = transforms.Compose([transforms.RandomAffine(10, translate=(0.1, 0.1), seed=0)])
    >>> loader = DataLoader(train, batch_size=64, shuffle=True, transform=augment, seed=0)
    >>> len(loader)
    23
"""

from chainrule.data import datasets, transforms
from chainrule.data.dataset import (
    ConcatDataset, DataError, Dataset, Splits, Subset, TensorDataset, random_split,
)
from chainrule.data.loader import DataLoader, default_collate
from chainrule.data.pca import PCA
from chainrule.data.viz import show_augmentations

__all__ = [
    "Dataset", "TensorDataset", "Subset", "ConcatDataset", "Splits", "random_split",
    "DataError", "DataLoader", "default_collate", "PCA", "show_augmentations",
    "datasets", "transforms",
]
