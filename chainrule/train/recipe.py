"""From a plain configuration (what ``chainrule train`` reads from flags, TOML and config.json)
to the objects of a training run: data splits and loaders, model, optimizer, scheduler.

A configuration is a dict of numbers, strings, lists and None; ``resolve`` fills in the
defaults (global ones, then those of the dataset, then the optimizer's learning rate), so that
one configuration always gives the same run.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import models, nn, optim
from chainrule.data import PCA, DataLoader, datasets, random_split, transforms
from chainrule.nn.registry import ACTIVATIONS
from chainrule.optim.registry import OPTIMIZERS as OPTIMIZER_REGISTRY

__all__ = ["ConfigError", "DEFAULTS", "DATASETS", "OPTIMIZERS", "SCHEDULERS", "resolve",
           "load_data", "model_spec", "build_optimizer", "build_scheduler", "make_loaders",
           "Projection"]

DATASETS = ("digits", "mnist1d", "mnist", "fashion-mnist", "spirals", "moons")
OPTIMIZERS = tuple(OPTIMIZER_REGISTRY)  # the names of chainrule.optim.registry
SECOND_ORDER = tuple(name for name, entry in OPTIMIZER_REGISTRY.items() if entry.closure)
SCHEDULERS = ("none", "step", "cosine", "onecycle", "plateau", "exponential")
MODELS = tuple(models.PRESETS)  # the presets of chainrule.models

DEFAULTS: dict[str, Any] = {
    "dataset": "digits", "data_dir": "data", "model": "cnn", "hidden": None, "channels": None,
    "activation": "relu", "bias": True, "init": None, "optimizer": "adam", "lr": None,
    "batch_size": 32, "epochs": 30, "weight_decay": 0.0, "l1": 0.0, "dropout": 0.0,
    "batch_norm": False, "augment": False, "mixup": 0.0, "pca": None, "clip_grad_norm": None,
    "scheduler": "cosine", "early_stopping": None, "seed": 0, "val_fraction": 0.1,
}

# what suits each dataset when the user does not say otherwise
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": {"model": "cnn", "epochs": 30, "batch_norm": True, "augment": True},
    "mnist1d": {"model": "cnn", "epochs": 30, "batch_norm": True, "augment": True},
    "mnist": {"model": "cnn", "epochs": 3, "batch_norm": True, "batch_size": 64},
    "fashion-mnist": {"model": "cnn", "epochs": 5, "batch_norm": True, "batch_size": 64},
    "spirals": {"model": "mlp", "hidden": [64, 64], "epochs": 100, "lr": 0.01},
    "moons": {"model": "mlp", "hidden": [32, 32], "epochs": 50, "lr": 0.01},
}

# what full-batch training of the command line's models wants beyond the registry's options
FULL_BATCH_OPTIONS: dict[str, dict[str, Any]] = {"lbfgs": {"history_size": 20},
                                                 "newton": {"damping": 1e-3}}

# options that fix the shapes and kinds of state; a resumed run must keep them
STRUCTURAL = ("dataset", "model", "hidden", "channels", "activation", "bias", "batch_norm",
              "optimizer", "pca", "scheduler", "augment", "mixup", "val_fraction", "seed")


class ConfigError(ValueError):
    """A configuration that cannot be run (the message says what to change)."""


def resolve(explicit: dict[str, Any], from_file: dict[str, Any] | None = None) -> dict[str, Any]:
    """The full configuration: defaults < dataset defaults < file < explicit options.

    Example:
        >>> config = resolve({"dataset": "spirals"})
        >>> config["model"], config["hidden"], config["lr"]
        ('mlp', [64, 64], 0.01)
    """
    from_file = dict(from_file or {})
    unknown = sorted(set(from_file) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)} in the config file; known "
                          f"settings: {', '.join(sorted(DEFAULTS))}")
    dataset = explicit.get("dataset", from_file.get("dataset", DEFAULTS["dataset"]))
    if dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    config = dict(DEFAULTS)
    config.update(DATASET_DEFAULTS[dataset])
    config.update(from_file)
    config.update(explicit)
    for key, choices in (("model", MODELS), ("optimizer", OPTIMIZERS),
                         ("scheduler", SCHEDULERS), ("activation", tuple(ACTIVATIONS))):
        if config[key] not in choices:
            raise ConfigError(f"{key} {config[key]!r} is not one of {', '.join(choices)}")
    if config["init"] is not None and config["init"] not in models.INITS:
        raise ConfigError(f"init {config['init']!r} is not one of {', '.join(models.INITS)}")
    if "lr" not in explicit and "lr" not in from_file:
        # a dataset's rate is tuned for the default optimizer; others get their own default
        tuned = DATASET_DEFAULTS[dataset].get("lr")
        same = config["optimizer"] == DEFAULTS["optimizer"]
        default = OPTIMIZER_REGISTRY[config["optimizer"]].lr
        config["lr"] = tuned if tuned is not None and same else default
    if config["optimizer"] in SECOND_ORDER and "batch_size" not in explicit \
            and "batch_size" not in from_file:
        config["batch_size"] = 0  # full batch: line searches need the same loss every call
    for key in ("hidden", "channels"):
        if isinstance(config[key], int):
            config[key] = [config[key]]
        if config[key] is not None:
            config[key] = [int(v) for v in config[key]]
    _check(config)
    return config


def _check(config: dict[str, Any]) -> None:
    checks = [
        ("epochs", config["epochs"] >= 0, "a non-negative int"),
        ("batch_size", config["batch_size"] >= 0, "an int >= 0 (0 = the whole dataset)"),
        ("lr", config["lr"] > 0, "a positive number"),
        ("weight_decay", config["weight_decay"] >= 0, "a number >= 0"),
        ("l1", config["l1"] >= 0, "a number >= 0"),
        ("dropout", 0 <= config["dropout"] < 1, "a number in [0, 1)"),
        ("mixup", config["mixup"] >= 0, "an alpha >= 0 (0 = off)"),
        ("val_fraction", 0 <= config["val_fraction"] < 1, "a number in [0, 1)"),
    ]
    for key, ok, expected in checks:
        if not ok:
            raise ConfigError(f"{key} must be {expected}, got {config[key]!r}")
    if config["pca"] is not None and config["pca"] < 1:
        raise ConfigError(f"pca must be a number of components >= 1, got {config['pca']!r}")
    if config["clip_grad_norm"] is not None and not config["clip_grad_norm"] > 0:
        raise ConfigError(f"clip_grad_norm must be > 0, got {config['clip_grad_norm']!r}")
    if config["early_stopping"] is not None and config["early_stopping"] < 1:
        raise ConfigError(f"early_stopping is a patience in epochs >= 1, got "
                          f"{config['early_stopping']!r}")
    if config["optimizer"] in SECOND_ORDER:
        if config["weight_decay"]:
            raise ConfigError(f"--weight-decay works with first-order optimizers, not "
                              f"{config['optimizer']}; use --l1 or another optimizer")
        if config["clip_grad_norm"] is not None:
            raise ConfigError(f"--clip-grad-norm works with first-order optimizers; "
                              f"{config['optimizer']} sets its own step length")
    if config["pca"] is not None and config["model"] != "mlp":
        raise ConfigError(f"--pca turns the inputs into {config['pca']} flat features, which only "
                          "--model mlp can take")


# ---------------------------------------------------------------------- data
def _raw_splits(config: dict[str, Any]):
    name, model = config["dataset"], config["model"]
    if name == "digits":
        return datasets.digits()
    if name == "mnist1d":
        return datasets.mnist1d(flatten=model == "mlp")
    if name in ("mnist", "fashion-mnist"):
        kind = datasets.MNIST if name == "mnist" else datasets.FashionMNIST
        root = config["data_dir"]
        return kind(root, train=True), kind(root, train=False)
    if name == "spirals":
        return datasets.spirals(seed=config["seed"])
    return datasets.moons(seed=config["seed"])


class Projection:
    """A fitted PCA as a transform: ``(x.reshape(N, -1) − mean) @ componentsᵀ`` (plain arrays,
    so it can be saved in safetensors and rebuilt for ``evaluate``/``predict``)."""

    def __init__(self, mean: np.ndarray, components: np.ndarray) -> None:
        self.mean = np.asarray(mean, dtype=np.float32)
        self.components = np.asarray(components, dtype=np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        flat = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
        return (flat - self.mean) @ self.components.T


def load_data(config: dict[str, Any]) -> dict[str, Any]:
    """The splits and their facts: ``train``, ``val`` (None without a validation fraction),
    ``test``, ``input_shape``, ``num_classes``, ``classes`` and, with PCA, ``projection``."""
    train, test = _raw_splits(config)
    val = None
    if config["val_fraction"] > 0:
        train, val = random_split(train, [1 - config["val_fraction"], config["val_fraction"]],
                                  generator=config["seed"])
    input_shape = raw_input_shape = tuple(test.input_shape)
    projection = None
    if config["pca"] is not None:
        features = math.prod(input_shape)
        if config["pca"] > features:
            raise ConfigError(f"--pca {config['pca']} asks for more components than the "
                              f"{features} input features of {config['dataset']}")
        inputs = np.stack([train[i][0] for i in range(len(train))])
        pca = PCA(config["pca"]).fit(inputs)
        projection = Projection(pca.mean_, pca.components_)
        input_shape = (config["pca"],)
    num_classes = test.num_classes
    return {"train": train, "val": val, "test": test, "input_shape": input_shape,
            "num_classes": num_classes, "classes": getattr(test, "classes", None),
            "projection": projection, "raw_input_shape": raw_input_shape}


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


def _augmentation(config: dict[str, Any], seed: int):
    name = config["dataset"]
    if name in ("digits", "mnist"):
        return transforms.RandomAffine(10, translate=(0.1, 0.1), scale=(0.9, 1.1), seed=seed)
    if name == "fashion-mnist":
        return transforms.Compose([transforms.RandomHorizontalFlip(0.5, seed=seed),
                                   transforms.RandomCrop(28, padding=2, seed=seed + 1)])
    if name == "mnist1d":
        return transforms.RandomShift1d(2, seed=seed)
    return transforms.GaussianNoise(0.05, seed=seed)  # 2-D points: jitter


def make_loaders(config: dict[str, Any], data: dict[str, Any]):
    """(train_loader, val_loader or None, test_loader) with the augmentation, MixUp and PCA
    of the configuration; every random stream is seeded from ``config['seed']``."""
    seed = int(config["seed"])
    train_steps = []
    if config["augment"]:
        train_steps.append(_augmentation(config, seed + 1))
    if config["mixup"]:
        train_steps.append(_FlatMix(config["mixup"], data["num_classes"], seed + 2))
    projection = data["projection"]
    if projection is not None:
        train_steps.append(projection)
    train_transform = transforms.Compose(train_steps) if train_steps else None
    batch = int(config["batch_size"])
    train_loader = DataLoader(data["train"], batch, shuffle=True, transform=train_transform,
                              seed=seed)
    eval_batch = 0 if batch == 0 else 512
    val_loader = None
    if data["val"] is not None:
        val_loader = DataLoader(data["val"], eval_batch, transform=projection, seed=seed)
    test_loader = DataLoader(data["test"], eval_batch, transform=projection, seed=seed)
    return train_loader, val_loader, test_loader


# ---------------------------------------------------------------------- model and optimizer
def model_spec(config: dict[str, Any], input_shape: tuple, num_classes: int) -> dict:
    """The ``{"preset", "kwargs"}`` of ``chainrule.models.build`` for this configuration."""
    preset = config["model"]
    common = {"activation": config["activation"], "dropout": config["dropout"],
              "init": config["init"]}
    if preset == "mlp":
        kwargs = {"in_features": math.prod(input_shape),
                  "hidden": config["hidden"] if config["hidden"] is not None else [100, 100],
                  "out_features": num_classes, "batch_norm": config["batch_norm"],
                  "bias": config["bias"], **common}
        return {"preset": "mlp", "kwargs": kwargs}
    if len(input_shape) < 2:
        raise ConfigError(f"--model {preset} needs images (C, H, W) or signals (C, L), but "
                          f"{config['dataset']} has flat inputs of shape {input_shape}; use "
                          "--model mlp")
    size = list(input_shape[1:]) if len(input_shape) == 3 else int(input_shape[1])
    kwargs = {"in_channels": int(input_shape[0]), "num_classes": num_classes,
              "input_size": size, **common}
    if preset == "cnn":
        kwargs.update(channels=config["channels"] or [32, 64], batch_norm=config["batch_norm"],
                      bias=config["bias"], hidden=(config["hidden"] or [128])[0])
    else:
        kwargs.update(channels=config["channels"] or [16, 32])
    return {"preset": preset, "kwargs": kwargs}


def build_optimizer(config: dict[str, Any], model: nn.Module):
    """The optimizer named by ``config['optimizer']`` (see ``chainrule.optim.registry``) over the
    model's parameters; first-order ones get ``config['weight_decay']``."""
    name = config["optimizer"]
    entry = OPTIMIZER_REGISTRY[name]
    options = (FULL_BATCH_OPTIONS.get(name, {}) if entry.closure
               else {"weight_decay": float(config["weight_decay"])})
    try:
        return entry.build(list(model.parameters()), float(config["lr"]), **options)
    except ValueError as error:
        raise ConfigError(f"--optimizer {name}: {error}") from None


def build_scheduler(config: dict[str, Any], optimizer, steps_per_epoch: int):
    """The learning-rate schedule named by ``config['scheduler']`` (None for 'none')."""
    name, epochs = config["scheduler"], max(1, int(config["epochs"]))
    schedules = optim.lr_scheduler
    if name == "none":
        return None
    if name == "step":
        return schedules.StepLR(optimizer, step_size=max(1, epochs // 3), gamma=0.1)
    if name == "cosine":
        return schedules.CosineAnnealingLR(optimizer, T_max=epochs)
    if name == "onecycle":
        return schedules.OneCycleLR(optimizer, max_lr=float(config["lr"]),
                                    total_steps=epochs * max(1, steps_per_epoch))
    if name == "plateau":
        return schedules.ReduceLROnPlateau(optimizer, factor=0.5, patience=3)
    return schedules.ExponentialLR(optimizer, gamma=0.95)
