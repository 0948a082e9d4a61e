"""The settings of one ``chainrule train`` run: a ``TrainConfig``, built from flags, from a TOML
file or from a run folder's ``config.json``, and validated here, in one place.

Every value is checked by the same table (``SETTINGS``: what each setting accepts) whatever it
came from; then the combination is checked (an option that does not apply to the chosen model
or data is an error, not a silently ignored setting). A wrong value raises ``ConfigError`` with
one sentence that names the value, says what is accepted and what to do.

Example:
    >>> config = resolve({"dataset": "spirals"})
    >>> config.model, config.hidden, config.lr
    ('mlp', [64, 64], 0.01)
"""

from __future__ import annotations

import dataclasses
import math
import sys
from typing import Any, Callable

from chainrule import models
from chainrule.nn.registry import ACTIVATIONS
from chainrule.optim.registry import OPTIMIZERS as OPTIMIZER_REGISTRY

__all__ = ["TrainConfig", "ConfigError", "UsageError", "resolve", "from_document", "read_toml",
           "check_values", "DATASETS", "MODELS", "OPTIMIZERS", "SCHEDULERS", "SECOND_ORDER",
           "STRUCTURAL", "FIXED_ON_RESUME"]

DATASETS = ("digits", "mnist1d", "mnist", "fashion-mnist", "spirals", "moons")
IDX_DATASETS = ("mnist", "fashion-mnist")
OPTIMIZERS = tuple(OPTIMIZER_REGISTRY)  # the names of chainrule.optim.registry
SECOND_ORDER = tuple(name for name, entry in OPTIMIZER_REGISTRY.items() if entry.closure)
#: what the second-order optimizers get unless told otherwise: full batch (0), 30 iterations
SECOND_ORDER_DEFAULTS = {"batch_size": 0, "epochs": 30, "scheduler": "none"}
SCHEDULERS = ("none", "step", "cosine", "onecycle", "plateau", "exponential")
MODELS = tuple(models.PRESETS)  # the presets of chainrule.models
RECURRENT = ("rnn", "gru", "lstm")  # the presets that read their inputs as sequences

# options that fix the shapes and kinds of state; a resumed run must keep them
STRUCTURAL = ("dataset", "model", "hidden", "channels", "activation", "bias", "batch_norm",
              "init", "optimizer", "pca", "scheduler", "augment", "mixup", "val_fraction", "seed")
# held by the checkpoint's optimizer and loader state, so a resumed run cannot change them
FIXED_ON_RESUME = ("lr", "weight_decay", "batch_size")


class ConfigError(ValueError):
    """A configuration that cannot be run (the message says what to change)."""


class UsageError(Exception):
    """Wrong input: reported as one line on stderr with exit status 2 (the message is the line)."""


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a ``chainrule train`` run; ``None`` marks a setting that does not
    apply (``channels`` of an mlp, ``data_dir`` of a bundled dataset)."""

    dataset: str = "digits"
    data_dir: str | None = None
    model: str = "cnn"
    hidden: list[int] | None = None
    channels: list[int] | None = None
    activation: str = "relu"
    bias: bool | None = True
    init: str | None = None
    optimizer: str = "adam"
    lr: float | None = None
    batch_size: int = 32
    epochs: int = 30
    weight_decay: float = 0.0
    l1: float = 0.0
    dropout: float = 0.0
    batch_norm: bool | None = False
    augment: bool = False
    mixup: float = 0.0
    pca: int | None = None
    clip_grad_norm: float | None = None
    scheduler: str = "cosine"
    early_stopping: int | None = None
    seed: int = 0
    val_fraction: float = 0.1

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain JSON values (what ``config.json`` records)."""
        return {key: (list(value) if isinstance(value, list) else value)
                for key, value in dataclasses.asdict(self).items()}

    def replace(self, **changes: Any) -> "TrainConfig":
        """A copy with ``changes`` (not re-validated; ``resolve`` and ``from_document`` do)."""
        return dataclasses.replace(self, **changes)


NAMES = tuple(field.name for field in dataclasses.fields(TrainConfig))
DEFAULTS: dict[str, Any] = TrainConfig().as_dict()

# what suits each dataset when the user does not say otherwise
DATASET_DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": {"model": "cnn", "epochs": 30, "batch_norm": True, "augment": True},
    "mnist1d": {"model": "cnn", "epochs": 30, "batch_norm": True, "augment": True},
    "mnist": {"model": "cnn", "epochs": 3, "batch_norm": True, "batch_size": 64,
              "data_dir": "data"},
    "fashion-mnist": {"model": "cnn", "epochs": 5, "batch_norm": True, "batch_size": 64,
                      "data_dir": "data"},
    "spirals": {"model": "mlp", "hidden": [64, 64], "epochs": 100, "lr": 0.01},
    "moons": {"model": "mlp", "hidden": [32, 32], "epochs": 50, "lr": 0.01},
}


# ---------------------------------------------------------------------- one value
class _Rejected(Exception):
    """A value outside what a setting accepts (the argument says what it accepts)."""


def _choice(choices: tuple, optional: bool = False) -> Callable:
    def check(value):
        if (value is None and optional) or (isinstance(value, str) and value in choices):
            return value
        raise _Rejected(f"one of {', '.join(choices)}")
    return check


def _boolean(value):
    if isinstance(value, bool):
        return value
    raise _Rejected("true or false (a TOML/JSON boolean, without quotes)")


def _or_none(check: Callable) -> Callable:
    """``check``, and None (a setting that does not apply, as config.json records it)."""
    return lambda value: None if value is None else check(value)


def _text(value):
    if isinstance(value, str) and value:
        return value
    raise _Rejected("a folder name")


def _whole(minimum: int, accepted: str, optional: bool = False, maximum: int | None = None):
    def check(value):
        if value is None and optional:
            return None
        if isinstance(value, int) and not isinstance(value, bool) and value >= minimum \
                and (maximum is None or value <= maximum):
            return int(value)
        raise _Rejected(accepted)
    return check


def _real(ok: Callable[[float], bool], accepted: str, optional: bool = False):
    def check(value):
        if value is None and optional:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value) and ok(value):
            return float(value)
        raise _Rejected(accepted)
    return check


def _widths(value):
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, (list, tuple)) and value and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in value):
        return [int(v) for v in value]
    raise _Rejected("positive whole widths such as 100,100 (TOML: [100, 100])")


#: setting → its check (returns the normalized value or raises _Rejected with what it accepts)
SETTINGS: dict[str, Callable] = {
    "dataset": _choice(DATASETS), "data_dir": _or_none(_text), "model": _choice(MODELS),
    "hidden": _widths, "channels": _widths,
    "activation": _choice(tuple(ACTIVATIONS), optional=True),
    "bias": _or_none(_boolean), "init": _choice(tuple(models.INITS), optional=True),
    "optimizer": _choice(OPTIMIZERS),
    "lr": _real(lambda v: v > 0, "a finite number > 0 such as 0.01"),
    "batch_size": _whole(0, "a whole number >= 0 (0 = the whole dataset)"),
    "epochs": _whole(0, "a whole number of epochs >= 0"),
    "weight_decay": _real(lambda v: v >= 0, "a finite number >= 0"),
    "l1": _real(lambda v: v >= 0, "a finite number >= 0"),
    "dropout": _real(lambda v: 0 <= v < 1, "a probability in [0, 1)"),
    "batch_norm": _or_none(_boolean), "augment": _boolean,
    "mixup": _real(lambda v: v >= 0, "an alpha >= 0 (0 = off)"),
    "pca": _whole(1, "a number of components >= 1", optional=True),
    "clip_grad_norm": _real(lambda v: v > 0, "a finite number > 0", optional=True),
    "scheduler": _choice(SCHEDULERS),
    "early_stopping": _whole(1, "a patience in epochs >= 1", optional=True),
    "seed": _whole(0, "a whole number from 0 to 2**32 - 1", maximum=2**32 - 1),
    "val_fraction": _real(lambda v: 0 <= v < 1, "a fraction in [0, 1)"),
}
assert set(SETTINGS) == set(NAMES)


def flag(key: str) -> str:
    """The command-line flag of a setting (``batch_size`` → ``--batch-size``)."""
    return "--" + key.replace("_", "-")


def _checked(values: dict[str, Any], where: Callable[[str, Any], str]) -> dict[str, Any]:
    unknown = sorted(set(values) - set(NAMES))
    if unknown:
        raise ConfigError(f"{where('', None).split(':')[0]}: unknown setting(s) "
                          f"{', '.join(unknown)}; known settings: {', '.join(sorted(NAMES))}")
    checked = {}
    for key, value in values.items():
        try:
            checked[key] = SETTINGS[key](value)
        except _Rejected as rejected:
            raise ConfigError(f"{where(key, value)} is not accepted: expected {rejected}"
                              ) from None
    return checked


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _flag_source(key: str, value: Any) -> str:
    return f"{flag(key)} {_shown(value)}"


def _file_source(path: str) -> Callable[[str, Any], str]:
    return lambda key, value: f"in {path}: {key} = {value!r}"


# ---------------------------------------------------------------------- the combination
def _combine(config: dict[str, Any], given: set[str], label: Callable[[str], str]) -> None:
    """Check what the settings mean together; settings that do not apply become None (an
    error when the user gave them)."""
    model = config["model"]
    if model != "mlp" and "hidden" not in given:
        config["hidden"] = None  # the datasets' default widths are for the mlp

    def not_for(key: str, reason: str) -> None:
        value = config[key]
        if key in given and value is not None:
            shown = f"{label(key)} {_shown(value)}"
            if isinstance(value, bool) and label(key).startswith("--"):
                shown = flag(key) if value else "--no-" + flag(key)[2:]
            raise ConfigError(f"{shown} does not apply: {reason}; drop it")
        config[key] = None

    if model == "mlp":
        not_for("channels", "mlp has no convolution channels (use --hidden for its widths)")
    if model == "resnet":
        not_for("hidden", "resnet has no hidden dense layers (use --channels)")
        not_for("bias", "resnet's convolutions are followed by batch norm, never a bias")
        not_for("batch_norm", "resnet always uses batch normalization")
    if model == "cnn" and config["hidden"] is not None and len(config["hidden"]) != 1:
        raise ConfigError(f"{label('hidden')}: cnn has one dense layer, so give one width "
                          "such as --hidden 128")
    if model in RECURRENT:
        _combine_recurrent(config, given, label, not_for)
    if config["dataset"] not in IDX_DATASETS:
        not_for("data_dir", f"{config['dataset']} is bundled; only {', '.join(IDX_DATASETS)} "
                "read files from a data folder")
    elif config["data_dir"] is None:
        config["data_dir"] = "data"
    if config["pca"] is not None and model != "mlp":
        raise ConfigError(f"--pca turns the inputs into {config['pca']} flat features, which "
                          "only --model mlp can take")
    if config["val_fraction"] == 0:
        if config["early_stopping"] is not None:
            raise ConfigError("--early-stopping watches the validation loss, but "
                              "--val-fraction is 0 (no validation split); give --val-fraction "
                              "0.1 or drop --early-stopping")
        if config["scheduler"] == "plateau":
            raise ConfigError("--scheduler plateau watches the validation loss, but "
                              "--val-fraction is 0 (no validation split); give --val-fraction "
                              "0.1 or choose another --scheduler")
    if config["optimizer"] in SECOND_ORDER:
        if config["weight_decay"]:
            raise ConfigError(f"--weight-decay works with first-order optimizers, not "
                              f"{config['optimizer']}; use --l1 or another optimizer")
        if config["clip_grad_norm"] is not None:
            raise ConfigError(f"--clip-grad-norm works with first-order optimizers; "
                              f"{config['optimizer']} sets its own step length")


def _combine_recurrent(config: dict[str, Any], given: set[str], label: Callable[[str], str],
                       not_for: Callable[[str, str], None]) -> None:
    """The rules of --model rnn, gru and lstm: one hidden size, no convolutions, no batch norm,
    PyTorch's initialization; an RNN's activation is tanh (default) or relu."""
    model = config["model"]
    not_for("channels", f"{model} has no convolution channels (use --hidden for its size)")
    not_for("batch_norm", f"{model} has no batch normalization")
    not_for("init", f"{model}'s recurrent layer keeps PyTorch's initialization")
    if config["hidden"] is not None and len(config["hidden"]) != 1:
        raise ConfigError(f"{label('hidden')}: {model} has one hidden size, so give one such as "
                          "--hidden 6")
    if model != "rnn":
        not_for("activation", f"{model}'s gates use sigmoid and tanh")
    elif "activation" not in given:
        config["activation"] = "tanh"
    elif config["activation"] not in ("tanh", "relu"):
        raise ConfigError(f"{label('activation')} {config['activation']}: an rnn's activation "
                          "is tanh or relu")


def resolve(explicit: dict[str, Any], from_file: dict[str, Any] | None = None,
            file: str = "the config file") -> TrainConfig:
    """The configuration of a new run: defaults < dataset defaults < file < explicit options,
    every value checked.

    Args:
        explicit: settings from flags (already of their Python types).
        from_file: settings from TOML (``read_toml``); ``file`` names it in errors.
    """
    from_file = dict(from_file or {})
    if "no_bias" in from_file:
        no_bias = _checked({"bias": from_file.pop("no_bias")}, _file_source(file))["bias"]
        from_file["bias"] = not no_bias
    from_file = _checked(from_file, _file_source(file))
    explicit = _checked(explicit, _flag_source)
    given = {**from_file, **explicit}
    config = dict(DEFAULTS)
    config.update(DATASET_DEFAULTS[given.get("dataset", DEFAULTS["dataset"])])
    config.update(given)
    if "lr" not in given:
        # a dataset's rate is tuned for the default optimizer; others get their own default
        tuned = DATASET_DEFAULTS[config["dataset"]].get("lr")
        same = config["optimizer"] == DEFAULTS["optimizer"]
        config["lr"] = tuned if tuned is not None and same else \
            OPTIMIZER_REGISTRY[config["optimizer"]].lr
    if config["optimizer"] in SECOND_ORDER:
        # full batch: line searches and trust regions need the same loss every call; an epoch
        # is then one iteration, and the step length is the method's own (no schedule)
        for key, value in SECOND_ORDER_DEFAULTS.items():
            if key not in given:
                config[key] = value
    _combine(config, set(given), lambda key: flag(key) if key in explicit
             else f"in {file}: {key}")
    return TrainConfig(**config)


def check_values(explicit: dict[str, Any], from_file: dict[str, Any] | None = None,
                 file: str = "the config file") -> dict[str, Any]:
    """The values alone checked (as ``resolve`` checks them), file < explicit merged."""
    return {**_checked(dict(from_file or {}), _file_source(file)),
            **_checked(explicit, _flag_source)}


def from_document(settings: Any, where: str) -> TrainConfig:
    """The ``TrainConfig`` a run folder's ``config.json`` recorded (``where`` names it)."""
    if not isinstance(settings, dict) or set(settings) != set(NAMES):
        missing = sorted(set(NAMES) - set(settings)) if isinstance(settings, dict) else NAMES
        raise ConfigError(f"{where} does not hold a complete chainrule train configuration "
                          f"(missing: {', '.join(missing) or 'none'}; unknown: "
                          f"{', '.join(sorted(set(settings) - set(NAMES))) or 'none'}); "
                          "it is damaged or from another version: train the run again")
    config = _checked(settings, lambda key, value: f"{where}: {key} = {value!r}")
    # What a run recorded was chosen for it: a kept value (a cnn's --hidden) is not a default
    # to reset, and a setting that did not apply was recorded as None.
    recorded = {key for key, value in config.items() if value is not None}
    _combine(config, recorded, lambda key: f"{where}: {key}")
    return TrainConfig(**config)


def _tomllib():
    """The standard library's TOML reader (Python 3.11+), or None."""
    try:
        import tomllib
    except ImportError:
        return None
    return tomllib


def read_toml(path: str) -> dict[str, Any]:
    """The settings of a ``--config`` TOML file (its ``[train]`` table, or the whole file), with
    ``-`` in keys read as ``_``; ``resolve`` checks them."""
    tomllib = _tomllib()
    if tomllib is None:
        raise UsageError(f"chainrule train: error: --config needs Python 3.11 or newer (tomllib); "
                         f"this is Python {sys.version_info.major}.{sys.version_info.minor}. "
                         "Pass the settings as flags instead")
    try:
        with open(path, "rb") as stream:
            data = tomllib.load(stream)
    except (FileNotFoundError, IsADirectoryError, PermissionError) as error:
        raise UsageError(f"chainrule train: error: --config {path}: cannot read it "
                         f"({error.strerror}); give a TOML file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"chainrule train: error: --config {path}: not valid TOML ({error})"
                         ) from None
    table = data.get("train", data)
    if not isinstance(table, dict):
        raise UsageError(f"chainrule train: error: --config {path}: [train] must be a table")
    return {str(key).replace("-", "_"): value for key, value in table.items()}
