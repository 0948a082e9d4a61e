"""fit and evaluate (chainrule/train/loop.py): every optimizer family, modes, schedulers,
clipping, L1, metrics, hooks; resume is exact: N epochs in one go equal k epochs, a fresh
process, and N - k more."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.train import LambdaCallback, evaluate, fit, needs_closure, predict
from chainrule.train import loop


def _net(hidden=8):
    return nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 2))


@pytest.mark.parametrize("make, full_batch", [
    (lambda p: optim.SGD(p, lr=0.3, momentum=0.9), False),
    (lambda p: optim.Adam(p, lr=0.05), False),
    (lambda p: optim.LBFGS(p, line_search_fn="strong_wolfe"), True),
    (lambda p: optim.Newton(p, damping=1e-3), True),
], ids=["sgd", "adam", "lbfgs", "newton"])
def test_every_optimizer_family_lowers_the_loss(make, full_batch, blobs):
    x, y = blobs()
    model = _net(4)
    loader = DataLoader(TensorDataset(x, y), 0 if full_batch else 16, shuffle=True, seed=0)
    initial = evaluate(model, loader, "cross_entropy")["loss"]
    history = fit(model, nn.CrossEntropyLoss(), make(list(model.parameters())), loader,
                  epochs=6)
    assert len(history) == 6
    assert history.columns == ["epoch", "train_loss", "train_accuracy", "lr", "time"]
    final = evaluate(model, loader, "cross_entropy")
    assert final["loss"] < 0.6 * initial and final["accuracy"] > 0.9


def test_closure_optimizers_are_detected():
    params = list(_net().parameters())
    assert needs_closure(optim.LBFGS(params)) and needs_closure(optim.BFGS(params))
    assert needs_closure(optim.NewtonCG(params)) and not needs_closure(optim.Adam(params))

    class Custom(optim.SGD):
        requires_closure = True

    assert needs_closure(Custom(params, lr=0.1))


class _Spy(nn.Module):
    """Records the mode and whether a graph is recorded at each forward."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 2)
        self.calls = []

    def forward(self, x):
        out = self.linear(x)
        self.calls.append((self.training, out.requires_grad))
        return out


def test_train_mode_for_batches_eval_mode_and_no_grad_for_validation(loaders):
    train, val = loaders
    model = _Spy()
    fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), train, val, epochs=2)
    per_epoch = len(train) + len(val)
    assert len(model.calls) == 2 * per_epoch
    for epoch in range(2):
        calls = model.calls[epoch * per_epoch:(epoch + 1) * per_epoch]
        assert calls[:len(train)] == [(True, True)] * len(train)
        assert calls[len(train):] == [(False, False)] * len(val)
    model.eval()
    evaluate(model, val, "cross_entropy")
    assert model.training is False  # evaluate gives the mode back
    model.train()
    evaluate(model, val, "cross_entropy")
    assert model.training is True


def test_recorded_losses_are_sample_weighted_means(blobs):
    x, y = blobs(50)
    model = _net()
    loader = DataLoader(TensorDataset(x, y), 16)  # batches of 16, 16, 16 and 2
    history = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.0), loader,
                  loader, epochs=1, metrics=("accuracy", "top1_accuracy"))
    logits = model(cr.tensor(x)).data.astype(np.float64)
    shifted = logits - logits.max(1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    expected = -log_probs[np.arange(50), y].mean()
    row = history.last
    assert row["train_loss"] == pytest.approx(expected, rel=1e-5)
    assert row["val_loss"] == pytest.approx(expected, rel=1e-5)
    accuracy = float(np.mean(logits.argmax(1) == y))
    assert row["train_accuracy"] == row["val_accuracy"] == row["val_top1_accuracy"] == accuracy


def test_step_scheduler_runs_once_per_epoch_and_lr_is_recorded(loaders):
    train, _ = loaders
    model = _net()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    history = fit(model, "cross_entropy", optimizer, train, epochs=5, scheduler=scheduler)
    assert history["lr"] == pytest.approx([0.1 * 0.5 ** (e // 2) for e in range(5)])


def test_plateau_scheduler_gets_the_validation_loss(loaders, monkeypatch):
    train, val = loaders
    model = _net()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    scheduler = optim.lr_scheduler.ReduceLROnPlateau(optimizer)
    seen = []
    original = scheduler.step
    monkeypatch.setattr(scheduler, "step", lambda value: (seen.append(value), original(value)))
    history = fit(model, "cross_entropy", optimizer, train, val, epochs=3, scheduler=scheduler)
    assert seen == history["val_loss"]


def test_one_cycle_steps_every_batch(loaders):
    train, _ = loaders
    model = _net()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=3 * len(train))
    fit(model, "cross_entropy", optimizer, train, epochs=3, scheduler=scheduler)
    assert scheduler.last_epoch == 3 * len(train)


def test_gradient_clipping_bounds_the_update(blobs):
    x, y = blobs(16)
    model = _net()
    before = [p.data.copy() for p in model.parameters()]
    loader = DataLoader(TensorDataset(x, y), 0)
    fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=1.0), loader, epochs=1,
        clip_grad_norm=1e-3)
    moved = np.sqrt(sum(((p.data - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert 0 < moved <= 1e-3 * (1 + 1e-4)
    with pytest.raises(ValueError, match="clip_grad_norm works with first-order"):
        fit(model, "cross_entropy", optim.LBFGS(model.parameters()), loader, clip_grad_norm=1.0)


def test_l1_adds_sign_of_the_weights_to_their_gradient(blobs):
    x, y = blobs(16)
    loader = DataLoader(TensorDataset(x, y), 0)
    cr.manual_seed(0)
    plain = _net()
    cr.manual_seed(0)
    penalized = _net()
    fit(plain, "cross_entropy", optim.SGD(plain.parameters(), lr=0.1), loader, epochs=1)
    start = [p.data.copy() for p in _net_like(penalized)]
    fit(penalized, "cross_entropy", optim.SGD(penalized.parameters(), lr=0.1), loader, epochs=1,
        l1=0.5)
    for (name, a), b, s in zip(plain.named_parameters(), penalized.parameters(), start):
        shift = b.data - a.data
        expected = -0.1 * 0.5 * np.sign(s) if name.endswith("weight") else np.zeros_like(s)
        np.testing.assert_allclose(shift, expected, atol=1e-6)


def _net_like(model):
    return list(model.parameters())


def test_soft_targets_are_scored_by_their_argmax(blobs):
    x, y = blobs(32)
    soft = np.eye(2, dtype=np.float32)[y] * 0.8 + 0.1
    model = _net()
    history = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.0),
                  DataLoader(TensorDataset(x, soft), 8), epochs=1)
    predicted = model(cr.tensor(x)).data.argmax(1)
    assert history["train_accuracy"][0] == pytest.approx(np.mean(predicted == y))


def test_hooks_run_in_order(blobs):
    x, y = blobs(8)
    events = []
    callback = LambdaCallback(
        on_train_begin=lambda s: events.append("train_begin"),
        on_epoch_begin=lambda s: events.append(f"epoch_begin {s.epoch}"),
        on_after_backward=lambda s: events.append("after_backward"),
        on_batch_end=lambda s: events.append(f"batch_end {s.batch}"),
        on_epoch_end=lambda s: events.append(f"epoch_end {s.logs['epoch']}"),
        on_train_end=lambda s: events.append("train_end"))
    model = _net()
    fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1),
        DataLoader(TensorDataset(x, y), 4), epochs=2, callbacks=[callback])
    epoch = ["after_backward", "batch_end 0", "after_backward", "batch_end 1"]
    assert events == (["train_begin", "epoch_begin 1"] + epoch + ["epoch_end 1", "epoch_begin 2"]
                      + epoch + ["epoch_end 2", "train_end"])


def test_predict_batches_like_one_call():
    model = _net()
    x = np.random.default_rng(0).normal(size=(600, 2)).astype(np.float32)
    np.testing.assert_allclose(predict(model, x, batch_size=128), model(cr.tensor(x)).data,
                               rtol=1e-6)


def test_bad_arguments_are_reported():
    model = _net()
    sgd = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="epochs must be a non-negative int"):
        fit(model, "cross_entropy", sgd, [], epochs=-1)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        fit(model, "hinge", sgd, [], epochs=1)
    with pytest.raises(ValueError, match="batches \\(inputs, targets\\)"):
        fit(model, "cross_entropy", sgd, [cr.zeros(2, 2)], epochs=1)


# ---------------------------------------------------------------------------- resume
ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import chainrule as cr
    from chainrule import nn, optim
    from chainrule.data import DataLoader, TensorDataset, transforms
    from chainrule.train import Checkpoint, EarlyStopping, fit

    epochs, folder, resume = int(sys.argv[1]), sys.argv[2], sys.argv[3:] or [None]
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 1, 4, 4)).astype(np.float32)
    y = (x.reshape(120, -1).sum(1) > 0).astype(np.int64)
    augment = transforms.Compose([transforms.RandomHorizontalFlip(0.5, seed=1),
                                  transforms.GaussianNoise(0.1)])  # own and global generator
    loader = DataLoader(TensorDataset(x, y), 16, shuffle=True, transform=augment)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(),
                          nn.Dropout(0.3), nn.Linear(32, 2))
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    fit(model, "cross_entropy", optimizer, loader, epochs=epochs, scheduler=scheduler,
        callbacks=[Checkpoint(folder), EarlyStopping("train_loss", patience=20,
                                                     restore_best=False)],
        resume=resume[0])
    cr.save(model, folder + "/final.safetensors")
""")


def _run_script(tmp_path, *args):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, str(script), *map(str, args)], check=True, env=env,
                   cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_resume_in_a_fresh_process_is_bitwise_identical(tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    whole.mkdir()
    split.mkdir()
    _run_script(tmp_path, 5, whole)
    _run_script(tmp_path, 2, split)
    _run_script(tmp_path, 5, split, split / "checkpoint.safetensors")
    expected, resumed = cr.load(whole / "final.safetensors"), cr.load(split / "final.safetensors")
    assert list(expected) == list(resumed)
    for key in expected:
        np.testing.assert_array_equal(resumed[key], expected[key], err_msg=key)


# ---------------------------------------------------------------------------- one step
def _model():
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 6), nn.ReLU(), nn.Linear(6, 2))


def _loader(blobs):
    x, y = blobs(48)
    return DataLoader(TensorDataset(x, y), 16, shuffle=True, seed=0)


def _by_hand(blobs, epochs: int):
    """zero_grad, forward, loss, backward, step: the loop fit stands for."""
    model, loader = _model(), _loader(blobs)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    losses = []
    for _ in range(epochs):
        for x, y in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.data))
    return [p.data.copy() for p in model.parameters()], losses


# A callback that does nothing at each hook the loop offers per batch; with any of them the loop
# used to take a different copy of the step than without.
_QUIET_HOOKS = {
    "none": [],
    "on_batch_end": [LambdaCallback(on_batch_end=lambda state: None)],
    "on_after_backward": [LambdaCallback(on_after_backward=lambda state: None)],
}


@pytest.mark.parametrize("hooks", sorted(_QUIET_HOOKS))
def test_fit_updates_the_parameters_as_the_loop_by_hand(blobs, hooks):
    expected, expected_losses = _by_hand(blobs, epochs=3)
    model = _model()
    seen = []
    callbacks = _QUIET_HOOKS[hooks] + [
        LambdaCallback(on_epoch_end=lambda state: seen.append(state.step))]
    history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1,
                                                         momentum=0.9),
                  _loader(blobs), epochs=3, callbacks=callbacks)
    for got, want in zip(model.parameters(), expected):
        np.testing.assert_array_equal(got.data, want)
    assert seen == [3, 6, 9]  # optimizer steps so far, at the end of each epoch
    # each epoch's loss is the sample-weighted mean of its batches' losses (equal batches here)
    per_epoch = np.reshape(expected_losses, (3, 3)).mean(axis=1)
    np.testing.assert_allclose(history["train_loss"], per_epoch, rtol=1e-6)


@pytest.mark.parametrize("options", [
    {}, {"callbacks": [LambdaCallback(on_batch_end=lambda state: None)]},
    {"l1": 1e-3}, {"clip_grad_norm": 1.0},
], ids=["plain", "batch hook", "l1", "clipping"])
def test_every_first_order_run_goes_through_the_one_step(blobs, monkeypatch, options):
    calls = []
    original = loop._plain_step

    def counted(state, inputs, target, after_backward):
        calls.append(state.batch)
        return original(state, inputs, target, after_backward)

    monkeypatch.setattr(loop, "_plain_step", counted)
    model = _model()
    fit(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.01), _loader(blobs),
        epochs=2, **options)
    assert calls == [0, 1, 2] * 2  # the batch index is set before each step


def test_a_stop_from_after_backward_skips_that_update(blobs):
    model = _model()
    before = [p.data.copy() for p in model.parameters()]

    def stop(state):
        state.stop_training = True

    history = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1),
                  _loader(blobs), epochs=2, callbacks=[LambdaCallback(on_after_backward=stop)])
    assert len(history) == 0  # stopped inside the first epoch: no record for it
    for got, want in zip(model.parameters(), before):
        np.testing.assert_array_equal(got.data, want)


def test_batches_may_be_lists_or_longer_tuples(blobs):
    x, y = blobs(32)
    batches = [[x[:16], y[:16]], (x[16:], y[16:], "extra")]
    model = _model()
    history = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), batches,
                  epochs=1)
    assert len(history) == 1 and np.isfinite(history["train_loss"][0])
    with pytest.raises(ValueError, match="fit expects batches"):
        fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), [x], epochs=1)
