"""``chainrule train``: check everything, then train and write a run folder that tells the truth.

A run folder holds ``config.json`` (the settings used, the model spec, the training inputs'
statistics and how the run ended), ``model.safetensors`` (the weights kept),
``checkpoint.safetensors`` (full state, for ``--resume``), ``history.csv``, ``curves.png``,
``confusion.png`` and, with ``--pca``, ``pca.safetensors``. Nothing is created before every
setting, the data and the model have been checked; an existing run folder is never overwritten.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from chainrule import models, nn
from chainrule._version import __version__
from chainrule.backend import manual_seed
from chainrule.cli import config as settings
from chainrule.cli import recipe
from chainrule.cli.config import TrainConfig, UsageError
from chainrule.cli.parallel import Processes
from chainrule.cli.plots import plot_confusion, plot_history
from chainrule.optim import lr_scheduler
from chainrule.serialization import CheckpointError, save, write_file
from chainrule.train import callbacks as cb
from chainrule.train.checkpoint import read_checkpoint
from chainrule.train.loop import evaluate, fit
from chainrule.train.metrics import confusion_matrix

__all__ = ["train_command", "program", "write_json", "FILES"]

#: the files a finished run folder holds, in the order the "run folder:" line lists them
FILES = ("model.safetensors", "checkpoint.safetensors", "config.json", "history.csv",
         "curves.png", "confusion.png", "pca.safetensors")


def program() -> str:
    """How the user called us, for the commands we print."""
    return "python3 -m chainrule" if Path(sys.argv[0]).name == "__main__.py" else "chainrule"


def write_json(path: Path, document: dict) -> None:
    """Write ``document`` as indented JSON to ``path``, atomically."""
    write_file(path, (json.dumps(document, indent=2) + "\n").encode())


def _fail(message: str) -> UsageError:
    return UsageError(f"chainrule train: error: {message}")


# ---------------------------------------------------------------------- the configuration
def _checkpoint_path(target: str) -> Path:
    path = Path(target)
    if path.is_dir():
        path = path / "checkpoint.safetensors"
    if not path.is_file():
        raise _fail(f"--resume {target}: no such checkpoint (give a checkpoint.safetensors file "
                    "or a run folder that holds one)")
    return path


def _resume_config(path: Path, explicit: dict, from_file: dict, file: str):
    """(config, checkpoint content, changes): the saved run's settings with the changes asked
    for applied (``changes``: setting → (saved, new)), or a refusal for the ones the
    checkpoint fixes."""
    content = read_checkpoint(path)
    saved = (content.get("extra") or {}).get("config")
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path} was not written by `chainrule train` (no configuration "
                              "inside); resume it from Python with fit(..., resume=path)")
    saved = settings.from_document(saved, f"the configuration in {path}")
    wanted = settings.check_values(explicit, from_file, file)
    old = saved.as_dict()
    fixed = [key for key in settings.STRUCTURAL + settings.FIXED_ON_RESUME
             if key in wanted and wanted[key] != old[key]]
    if fixed:
        changes = "; ".join(f"{key}: checkpoint {old[key]!r}, asked {wanted[key]!r}"
                            for key in fixed)
        raise _fail(f"--resume {path} cannot change {', '.join(fixed)} ({changes}): the "
                    "checkpoint's model, optimizer and data order hold them; drop those options "
                    "to continue that run, or start a new run without --resume")
    outcome = _saved_outcome(path)
    if outcome.get("status") == "early-stopped" and "epochs" not in wanted:
        raise _fail(f"--resume {path}: that run early-stopped at epoch {outcome['epoch']} "
                    f"(keeping epoch {outcome['kept_epoch']}'s weights); like a finished run, "
                    f"it trains further only with --epochs larger than {outcome['epoch']}")
    if "epochs" in wanted and wanted["epochs"] != old["epochs"] and old["scheduler"] == "onecycle":
        raise _fail(f"--resume {path} --epochs {wanted['epochs']}: a onecycle schedule cannot "
                    "be stretched over a new total; start a new run with the epochs you want")
    merged = {**old, **{k: v for k, v in wanted.items() if k in old}}
    config = settings.from_document(merged, "the resumed configuration")
    changes = {key: (old[key], merged[key]) for key in merged if merged[key] != old[key]}
    return config, content, changes


def _saved_outcome(checkpoint: Path) -> dict:
    """How the run beside ``checkpoint`` ended, from its config.json ({} when unknown)."""
    try:
        document = json.loads((checkpoint.parent / "config.json").read_text())
        return dict(document.get("outcome") or {})
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def _default_out(config: TrainConfig) -> Path:
    """runs/DATASET-MODEL-TIME, with -2, -3, ... when that name is taken."""
    base = Path("runs") / f"{config.dataset}-{config.model}-{time.strftime('%Y%m%d-%H%M%S')}"
    out, number = base, 1
    while out.exists():
        number += 1
        out = base.with_name(f"{base.name}-{number}")
    return out


def _check_out(out: Path, resumed_from: Path | None) -> None:
    if resumed_from is not None and out.resolve() == resumed_from.parent.resolve():
        return  # continuing a run in its own folder
    if out.exists() and not out.is_dir():
        raise _fail(f"--out {out} is a file, not a folder; choose a new folder name")
    if out.is_dir() and any(out.iterdir()):
        raise _fail(f"--out {out} already exists and is not empty; a run folder is never "
                    f"overwritten: continue that run with --resume {out}, or choose a new --out")
    parent = out if out.is_dir() else next(p for p in out.parents if p.exists())
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise _fail(f"cannot write to --out {out}: {parent} is not a folder you can write to; "
                    "choose another --out")


# ---------------------------------------------------------------------- training
class _Replan(cb.Callback):
    """After a resume has loaded the scheduler, plan it over the new total of epochs (as if it
    had been built for it), so an extended run neither sits at lr 0 nor climbs back up."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_train_begin(self, state) -> None:
        scheduler, done = state.scheduler, state.initial_epoch
        if isinstance(scheduler, lr_scheduler.CosineAnnealingLR):
            scheduler.T_max = self.epochs
            rates = [scheduler.eta_min + (base - scheduler.eta_min)
                     * (1 + math.cos(math.pi * done / self.epochs)) / 2
                     for base in scheduler.base_lrs]
        elif isinstance(scheduler, lr_scheduler.StepLR):
            scheduler.step_size = max(1, self.epochs // 3)
            rates = [base * scheduler.gamma ** (done // scheduler.step_size)
                     for base in scheduler.base_lrs]
        else:
            return
        for group, rate in zip(state.optimizer.param_groups, rates):
            group["lr"] = rate
        scheduler._last_lr = list(rates)


class _LastFinite(cb.Callback):
    """Keeps a copy of the weights after the last epoch that ended with finite weights."""

    def __init__(self, model) -> None:
        self.epoch, self.weights = 0, model.state_dict()

    def on_train_begin(self, state) -> None:
        self.epoch, self.weights = state.initial_epoch, state.model.state_dict()

    def on_epoch_end(self, state) -> None:
        weights = state.model.state_dict()
        if all(np.isfinite(w).all() for w in weights.values()):
            self.epoch, self.weights = state.epoch, {k: np.copy(w) for k, w in weights.items()}


def _outcome(history, config: TrainConfig, stopper, guard: _LastFinite, model) -> dict:
    reason = history.stop_reason or ""
    epochs_done = history.rows[-1]["epoch"] if len(history) else 0
    if reason.startswith("TerminateOnNaN") or not all(
            np.isfinite(w).all() for w in model.state_dict().values()):
        model.load_state_dict(guard.weights)
        return {"status": "diverged", "epoch": epochs_done + 1, "kept_epoch": guard.epoch,
                "message": f"diverged at epoch {epochs_done + 1} (a loss or gradient was NaN "
                           f"or infinite): model.safetensors keeps the weights after epoch "
                           f"{guard.epoch}, the last finite ones"}
    if stopper is not None and stopper.stopped_epoch:
        return {"status": "early-stopped", "epoch": stopper.stopped_epoch,
                "kept_epoch": stopper.best_epoch,
                "message": f"early stopping at epoch {stopper.stopped_epoch}: the validation "
                           f"loss has not improved for {config.early_stopping} epochs; "
                           f"model.safetensors keeps epoch {stopper.best_epoch}'s weights "
                           "(the lowest validation loss)"}
    kept = stopper.best_epoch if stopper is not None and stopper.best_epoch else epochs_done
    return {"status": "finished", "epoch": epochs_done, "kept_epoch": kept,
            "message": f"finished {epochs_done} epochs: model.safetensors keeps epoch "
                       f"{kept}'s weights"}


def _write_history(history, path: Path) -> None:
    path.unlink(missing_ok=True)  # the logger's temporary file is private (0600); ours is not
    if len(history):
        history.to_csv(path)
    else:
        write_file(path, b"epoch,train_loss\n")


def _describe(config: TrainConfig, data: dict, model: Any) -> str:
    sizes = [f"{len(data['train']):,} train"]
    if data["val"] is not None:
        sizes.append(f"{len(data['val']):,} validation")
    sizes.append(f"{len(data['test']):,} test")
    extras = [name for name, on in (("batch norm", config.batch_norm or config.model == "resnet"),
                                    ("augmentation", config.augment),
                                    (f"mixup {config.mixup}", config.mixup),
                                    (f"pca {config.pca}", config.pca),
                                    (f"dropout {config.dropout}", config.dropout)) if on]
    params = sum(p.data.size for p in model.parameters())
    return (f"{config.model} on {config.dataset}: {' / '.join(sizes)} samples, "
            f"{params:,} parameters{', ' + ', '.join(extras) if extras else ''}\n"
            f"{config.optimizer} lr {config.lr:g}, batch {config.batch_size or 'full'}, "
            f"{config.epochs} epochs, {config.scheduler} schedule, seed {config.seed}")


def train_command(args: Any, started: float | None = None,
                  from_file: dict[str, Any] | None = None, file: str = "the config file") -> int:
    """``chainrule train``: check the configuration, train, write the run folder.

    Args:
        args: the parsed options. started: ``time.perf_counter()`` when the command began.
        from_file: the settings of ``--config`` (``config.read_toml``), ``file`` its name.
    """
    started = time.perf_counter() if started is None else started
    explicit = {k: v for k, v in vars(args).items() if k in settings.NAMES}
    from_file = dict(from_file or {})
    resume = getattr(args, "resume", None)
    checkpoint, content, changes = None, None, {}
    if resume:
        checkpoint = _checkpoint_path(resume)
        config, content, changes = _resume_config(checkpoint, explicit, from_file, file)
        if content["epoch"] >= config.epochs:
            raise _fail(f"--resume {checkpoint}: that run already trained {content['epoch']} of "
                        f"{config.epochs} epochs; pass --epochs with a larger number to train "
                        "further")
        out = Path(getattr(args, "out", None) or checkpoint.parent)
    else:
        config = settings.resolve(explicit, from_file, file)
        out = Path(args.out) if getattr(args, "out", None) else _default_out(config)
    processes = Processes()  # under mpiexec: this rank; rank 0 alone prints and writes
    processes.check(config)
    if processes.lead:
        _check_out(out, checkpoint)
    quiet = getattr(args, "quiet", False) or not processes.lead
    manual_seed(int(config.seed))
    data = recipe.load_data(config)
    train_loader, val_loader, test_loader = recipe.make_loaders(config, data)
    spec = recipe.model_spec(config, data["input_shape"], data["num_classes"])
    model, train_loader, val_loader = processes.prepare(models.build(spec), train_loader,
                                                        val_loader)
    optimizer = recipe.build_optimizer(config, model)
    scheduler = recipe.build_scheduler(config, optimizer, len(train_loader))
    # everything is checked: from here on the run folder is written
    document = {"config": config.as_dict(), "model": spec,
                "input_shape": list(data["input_shape"]),
                "raw_input_shape": list(data["raw_input_shape"]),
                "input_stats": data["input_stats"], "num_classes": data["num_classes"],
                "classes": data["classes"], "chainrule_version": __version__,
                "outcome": {"status": "running"}}
    extra = {k: v for k, v in document.items() if k != "outcome"}
    if processes.lead:
        _start_folder(out, document, extra, data["projection"])
    if changes and not quiet:
        notes = ", ".join(f"{key} {saved!r} -> {new!r}" for key, (saved, new) in changes.items())
        print(f"resuming {checkpoint} with {notes}", flush=True)
    replanned = resume and "epochs" in changes and config.scheduler in ("cosine", "step")
    if replanned and not quiet:
        print(f"the {config.scheduler} learning-rate schedule is re-planned over the new total "
              f"of {config.epochs} epochs", flush=True)
    saver = cb.Checkpoint(out, every=1, keep_best=False, extra=extra)
    guard = _LastFinite(model)
    outputs = [cb.CSVLogger(out / "history.csv"), saver]
    callbacks = [cb.TerminateOnNaN(verbose=processes.lead), guard, *outputs]
    if replanned:
        callbacks.insert(0, _Replan(config.epochs))
    stopper = None
    if config.early_stopping:
        stopper = cb.EarlyStopping("val_loss", patience=int(config.early_stopping),
                                   restore_best=True)
        callbacks.append(stopper)
    if not getattr(args, "quiet", False):
        outputs += [cb.ProgressBar(batches=len(train_loader) >= 100), cb.EpochTable()]
        callbacks += outputs[2:]
    if not quiet:
        print(_describe(config, data, model) + processes.note(config), flush=True)
    callbacks = processes.callbacks(callbacks, outputs)
    loss_fn = nn.CrossEntropyLoss()
    try:
        with np.errstate(all="ignore"):  # a diverging run is reported once, below
            history = fit(model, loss_fn, optimizer, train_loader, val_loader,
                          epochs=int(config.epochs), scheduler=scheduler, callbacks=callbacks,
                          metrics=("accuracy",), clip_grad_norm=config.clip_grad_norm,
                          l1=float(config.l1), resume=str(checkpoint) if resume else None)
    except KeyboardInterrupt:
        path = out / "checkpoint.safetensors"
        if not processes.lead:
            return 130
        if not path.is_file():
            print("\ninterrupted before a checkpoint could be saved", file=sys.stderr)
            return 130
        history_file = out / "history.csv"
        if history_file.is_file():
            os.chmod(history_file, 0o666 & ~_umask())
        saved = saver.saved_epoch if saver.saved_epoch is not None else "the last finished"
        print(f"\ninterrupted: the state after epoch {saved} is saved in {path}\nresume "
              f"with:\n  {program()} train --resume {path}", file=sys.stderr, flush=True)
        return 130
    if not processes.lead:
        return 0
    outcome = _outcome(history, config, stopper, guard, model)
    document["outcome"] = outcome
    write_json(out / "config.json", document)
    _write_history(history, out / "history.csv")
    save(model, out / "model.safetensors",
         metadata={"config": json.dumps(document), "epochs": str(len(history))})
    with np.errstate(all="ignore"):
        result = evaluate(model, test_loader, loss_fn, ("accuracy",), return_outputs=True)
    matrix = confusion_matrix(result["outputs"], result["targets"], data["num_classes"])
    _plots(history, matrix, data["classes"], config, result["accuracy"], out, outcome)
    if not quiet or outcome["status"] != "finished":
        print(outcome["message"], flush=True)
    correct, total = int(np.trace(matrix)), int(matrix.sum())
    seconds = time.perf_counter() - started
    print(f"test accuracy {100 * result['accuracy']:.2f}% ({correct}/{total}), test loss "
          f"{result['loss']:.4f}, {len(history)} epochs, {seconds:.1f} s", flush=True)
    if not quiet:
        present = [name for name in FILES if (out / name).is_file()]
        print(f"run folder: {out}/ ({', '.join(present)})", flush=True)
    return 1 if outcome["status"] == "diverged" else 0


def _start_folder(out: Path, document: dict, extra: dict, projection) -> None:
    """Create the run folder with its config.json (and pca.safetensors, also put in ``extra``)."""
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        write_json(out / "config.json", document)
    except OSError as error:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise _fail(f"cannot write to --out {out}: {error.strerror or error}; choose a folder "
                    "you can write to") from None
    if projection is not None:
        save({"mean": projection.mean, "components": projection.components},
             out / "pca.safetensors")
        extra["pca"] = {"mean": projection.mean, "components": projection.components}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _plots(history, matrix, classes, config: TrainConfig, accuracy, out: Path,
           outcome: dict) -> None:
    model = {"mlp": "MLP", "cnn": "CNN", "resnet": "ResNet"}.get(config.model, config.model)
    name = f"{model} on {config.dataset}"
    plot_history(history, out / "curves.png", title=f"{name}: training curves",
                 kept_epoch=outcome.get("kept_epoch") if outcome["status"] != "finished"
                 or config.early_stopping else None)
    plot_confusion(matrix, out / "confusion.png", classes,
                   title=f"{name}: test accuracy {100 * accuracy:.2f}%")
