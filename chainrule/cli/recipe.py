"""From a checked ``TrainConfig`` (``chainrule.cli.config``) to the objects of a training run:
data splits and loaders, model, optimizer, scheduler. One configuration always gives the same
run: every random stream is seeded from ``config.seed``.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np

from chainrule import nn, optim
from chainrule.data import PCA, DataLoader, datasets, random_split, transforms
from chainrule.cli.config import RECURRENT, ConfigError, TrainConfig
from chainrule.optim.registry import OPTIMIZERS as OPTIMIZER_REGISTRY

__all__ = ["load_data", "raw_splits", "model_spec", "build_optimizer", "build_scheduler",
           "make_loaders", "Projection", "input_statistics"]

# what full-batch training of the command line's models wants beyond the registry's options
FULL_BATCH_OPTIONS: dict[str, dict[str, Any]] = {"lbfgs": {"history_size": 20}}


# ---------------------------------------------------------------------- data
def raw_splits(config: TrainConfig):
    """The dataset's train/test splits as loaded, before any scaling or projection."""
    name, model = config.dataset, config.model
    if name == "digits":
        return datasets.digits()
    if name == "mnist1d":
        return datasets.mnist1d(flatten=model == "mlp")
    if name in ("mnist", "fashion-mnist"):
        kind = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
        root = config.data_dir
        return kind(root, train=True), kind(root, train=False)
    if name == "spirals":
        return datasets.spirals(seed=config.seed)
    return datasets.moons(seed=config.seed)


class Projection:
    """A fitted PCA as a transform: ``(x.reshape(N, -1) − mean) @ componentsᵀ`` (plain arrays,
    so it can be saved in safetensors and rebuilt for ``evaluate``/``predict``)."""

    def __init__(self, mean: np.ndarray, components: np.ndarray) -> None:
        self.mean = np.asarray(mean, dtype=np.float32)
        self.components = np.asarray(components, dtype=np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        flat = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
        return (flat - self.mean) @ self.components.T


def load_data(config: TrainConfig) -> dict[str, Any]:
    """The splits and their facts: ``train``, ``val`` (None without a validation fraction),
    ``test``, ``input_shape``, ``num_classes``, ``classes`` and, with PCA, ``projection``."""
    train, test = raw_splits(config)
    val = None
    if config.val_fraction > 0:
        train, val = random_split(train, [1 - config.val_fraction, config.val_fraction],
                                  generator=config.seed)
    input_shape = raw_input_shape = tuple(test.input_shape)
    projection = None
    inputs = np.stack([train[i][0] for i in range(len(train))]) if len(train) else None
    if config.pca is not None:
        features = math.prod(input_shape)
        if config.pca > features:
            raise ConfigError(f"--pca {config.pca} asks for more components than the "
                              f"{features} input features of {config.dataset}")
        pca = PCA(config.pca).fit(inputs)
        projection = Projection(pca.mean_, pca.components_)
        input_shape = (config.pca,)
    num_classes = test.num_classes
    return {"train": train, "val": val, "test": test, "input_shape": input_shape,
            "num_classes": num_classes, "classes": getattr(test, "classes", None),
            "projection": projection, "raw_input_shape": raw_input_shape,
            "input_stats": input_statistics(inputs)}


def input_statistics(inputs: np.ndarray | None) -> dict[str, float] | None:
    """min, max, mean and std of the training inputs (what ``predict`` compares inputs with)."""
    if inputs is None or inputs.size == 0:
        return None
    values = np.asarray(inputs, dtype=np.float64)
    return {"min": float(values.min()), "max": float(values.max()),
            "mean": float(values.mean()), "std": float(values.std())}


class _FlatMix:
    """MixUp for any input shape: the data package's MixUp mixes image batches (N, C, H, W),
    so other inputs are viewed as (N, 1, 1, features) and reshaped back."""

    batch_pair = True

    def __init__(self, alpha: float, num_classes: int, seed: int) -> None:
        self.mix = transforms.MixUp(alpha, num_classes=num_classes, seed=seed)

    def __call__(self, x: np.ndarray, y: np.ndarray):
        shape = np.shape(x)
        if len(shape) == 4:
            return self.mix(x, y)
        mixed, soft = self.mix(np.asarray(x).reshape(shape[0], 1, 1, -1), y)
        return mixed.reshape(shape), soft


def _augmentation(config: TrainConfig, seed: int):
    name = config.dataset
    if name in ("digits", "mnist"):
        return transforms.RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1), seed=seed)
    if name == "fashion-mnist":
        return transforms.Compose([transforms.RandomHorizontalFlip(0.5, seed=seed),
                                   transforms.RandomCrop(28, padding=2, seed=seed + 1)])
    if name == "mnist1d":
        return transforms.RandomShift1d(2, seed=seed)
    return transforms.GaussianNoise(0.05, seed=seed)  # 2-D points: jitter


def make_loaders(config: TrainConfig, data: dict[str, Any]):
    """(train_loader, val_loader or None, test_loader) with the augmentation, MixUp and PCA
    of the configuration; every random stream is seeded from ``config.seed``."""
    seed = int(config.seed)
    train_steps = []
    if config.augment:
        train_steps.append(_augmentation(config, seed + 1))
    if config.mixup:
        train_steps.append(_FlatMix(config.mixup, data["num_classes"], seed + 2))
    projection = data["projection"]
    if projection is not None:
        train_steps.append(projection)
    train_transform = transforms.Compose(train_steps) if train_steps else None
    batch = int(config.batch_size)
    train_loader = DataLoader(data["train"], batch, shuffle=True, transform=train_transform,
                              seed=seed)
    eval_batch = 0 if batch == 0 else 512
    val_loader = None
    if data["val"] is not None:
        val_loader = DataLoader(data["val"], eval_batch, transform=projection, seed=seed)
    test_loader = DataLoader(data["test"], eval_batch, transform=projection, seed=seed)
    return train_loader, val_loader, test_loader


# ---------------------------------------------------------------------- model and optimizer
def model_spec(config: TrainConfig, input_shape: tuple, num_classes: int) -> dict:
    """The ``{"preset", "kwargs"}`` of ``chainrule.models.build`` for this configuration."""
    preset = config.model
    common = {"activation": config.activation, "dropout": config.dropout,
              "init": config.init}
    if preset == "mlp":
        kwargs = {"in_features": math.prod(input_shape),
                  "hidden": config.hidden if config.hidden is not None else [100, 100],
                  "out_features": num_classes, "batch_norm": config.batch_norm,
                  "bias": config.bias, **common}
        return {"preset": "mlp", "kwargs": kwargs}
    if len(input_shape) < 2:
        raise ConfigError(f"--model {preset} needs images (C, H, W) or signals (C, L), but "
                          f"{config.dataset} has flat inputs of shape {input_shape}; use "
                          "--model mlp")
    size = list(input_shape[1:]) if len(input_shape) == 3 else int(input_shape[1])
    if preset in RECURRENT:
        kwargs = {"in_channels": int(input_shape[0]), "num_classes": num_classes,
                  "input_size": size, "hidden": (config.hidden or [6])[0],
                  "dropout": config.dropout, "bias": config.bias}
        if preset == "rnn":
            kwargs["activation"] = config.activation
        return {"preset": preset, "kwargs": kwargs}
    kwargs = {"in_channels": int(input_shape[0]), "num_classes": num_classes,
              "input_size": size, **common}
    if preset == "cnn":
        kwargs.update(channels=config.channels or [32, 64], batch_norm=config.batch_norm,
                      bias=config.bias, hidden=(config.hidden or [128])[0])
    else:
        kwargs.update(channels=config.channels or [16, 32])
    return {"preset": preset, "kwargs": kwargs}


def build_optimizer(config: TrainConfig, model: nn.Module):
    """The optimizer named by ``config.optimizer`` (see ``chainrule.optim.registry``) over the
    model's parameters; first-order ones get ``config.weight_decay``."""
    name = config.optimizer
    entry = OPTIMIZER_REGISTRY[name]
    options = (FULL_BATCH_OPTIONS.get(name, {}) if entry.closure
               else {"weight_decay": float(config.weight_decay)})
    parameters = list(model.parameters())
    try:
        return entry.build(parameters, float(config.lr), **options)
    except ValueError as error:
        if "max_params" not in str(error):
            raise ConfigError(f"--optimizer {name}: {error}") from None
        count = sum(p.data.size for p in parameters)
        alternatives = [n for n in ("lbfgs", "newton-cg", "gauss-newton")
                        if n in OPTIMIZER_REGISTRY]
        limit = entry.options.get(
            "max_params", inspect.signature(entry.cls).parameters["max_params"].default)
        raise ConfigError(
            f"--optimizer {name} keeps an n x n matrix and takes at most {limit:,} "
            f"parameters, but this {config.model} has {count:,}; choose --optimizer "
            f"{', '.join(alternatives[:-1])} or {alternatives[-1]} (matrix-free), or a smaller "
            "model (--model mlp --hidden 8)") from None


def build_scheduler(config: TrainConfig, optimizer, steps_per_epoch: int):
    """The learning-rate schedule named by ``config.scheduler`` (None for 'none')."""
    name, epochs = config.scheduler, max(1, int(config.epochs))
    schedules = optim.lr_scheduler
    if name == "none":
        return None
    if name == "step":
        return schedules.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1)
    if name == "cosine":
        return schedules.CosineAnnealingLR(optimizer, T_max=epochs)
    if name == "onecycle":
        return schedules.OneCycleLR(optimizer, max_lr=float(config.lr),
                                    total_steps=epochs * max(1, steps_per_epoch))
    if name == "plateau":
        return schedules.ReduceLROnPlateau(optimizer, factor=0.5, patience=3)
    return schedules.ExponentialLR(optimizer, gamma=0.95)
