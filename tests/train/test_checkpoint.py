"""Checkpoints (chainrule/train/checkpoint.py): weights and full checkpoints round trip (model,
optimizer, scheduler, history, callbacks, random generators), writes are atomic; a checkpoint
that cannot be loaded (missing, damaged, foreign, old, or not fitting the objects) is refused
with a CheckpointError naming the file, and the model, optimizer, scheduler and random
generators are left exactly as they were."""

import copy
import json
import math
import os
import pickle
import random
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import backend, nn, optim
from chainrule import serialization
from chainrule.data import DataLoader, TensorDataset, transforms
from chainrule.train import (
    Checkpoint, CheckpointError, EarlyStopping, History, fit, load_checkpoint, read_checkpoint,
    save_checkpoint,
)


def _model(hidden=4):
    return nn.Sequential(nn.Linear(3, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                         nn.Linear(hidden, 2))


def _train_a_little(model):
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    for _ in range(3):
        optimizer.zero_grad()
        model(cr.randn(8, 3)).sum().backward()
        optimizer.step()
    return optimizer


def test_weights_round_trip_keeps_keys_order_dtypes_and_values(tmp_path):
    model = _model()
    _train_a_little(model)
    path = tmp_path / "w.safetensors"
    cr.save(model, path)
    state = cr.load(path)
    assert list(state) == list(model.state_dict())
    for key, value in model.state_dict().items():
        assert state[key].dtype == value.dtype and state[key].shape == value.shape
        np.testing.assert_array_equal(state[key], value)
    fresh = _model()
    fresh.load_state_dict(state)
    x = cr.randn(5, 3)
    np.testing.assert_array_equal(fresh.eval()(x).data, model.eval()(x).data)


def test_weights_file_is_plain_safetensors(tmp_path):
    from safetensors.numpy import load_file

    path = tmp_path / "w.safetensors"
    cr.save({"w": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.array(3)}, path)
    raw = load_file(str(path))
    np.testing.assert_array_equal(raw["w"], np.arange(6).reshape(2, 3))
    assert raw["n"].shape == ()
    assert b"pickle" not in path.read_bytes().lower()


def test_foreign_safetensors_weights_load(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "foreign.safetensors"
    save_file({"layer.weight": np.ones((2, 2), np.float32)}, str(path))
    assert list(cr.load(path)) == ["layer.weight"]
    with pytest.raises(CheckpointError, match="not a chainrule checkpoint"):
        read_checkpoint(path)


def test_full_checkpoint_restores_model_optimizer_scheduler_history(tmp_path):
    model = _model()
    optimizer = _train_a_little(model)
    scheduler = optim.lr_scheduler.StepLR(optimizer, 2, 0.5)
    scheduler.step()
    history = History([{"epoch": 1, "train_loss": 0.5}])
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model, optimizer, scheduler, epoch=1, step=3, history=history,
                    extra={"note": "x", "values": (1, 2.5, None), 7: np.arange(3)})
    model2 = _model()
    optimizer2 = optim.Adam(model2.parameters(), lr=0.01)
    scheduler2 = optim.lr_scheduler.StepLR(optimizer2, 2, 0.5)
    content = load_checkpoint(path, model2, optimizer2, scheduler2)
    assert content["epoch"] == 1 and content["step"] == 3
    assert content["history"].rows == history.rows
    assert content["extra"]["note"] == "x" and content["extra"]["values"] == (1, 2.5, None)
    np.testing.assert_array_equal(content["extra"][7], np.arange(3))
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(model2.state_dict()[key], value)
    state, state2 = optimizer.state_dict(), optimizer2.state_dict()
    assert state["param_groups"] == state2["param_groups"]
    for index, values in state["state"].items():
        for name, value in values.items():
            np.testing.assert_array_equal(state2["state"][index][name], value)
    assert scheduler2.state_dict() == scheduler.state_dict()


def test_random_generators_are_restored(tmp_path):
    noise = transforms.GaussianNoise(1.0, seed=3)
    loader = DataLoader(TensorDataset(np.zeros((10, 2), np.float32), np.arange(10)), 4,
                        shuffle=True, transform=noise, seed=5)
    list(loader)
    np.random.seed(1)
    random.seed(2)
    cr.manual_seed(3)
    model = _model()
    save_checkpoint(tmp_path / "c.safetensors", model, loaders=[loader])

    def draws():
        return (np.random.rand(3).tolist(), random.random(), cr.rand(3).tolist(),
                [batch[1].tolist() for batch in loader], noise(np.zeros((1, 2))).tolist())

    expected = draws()
    loader2 = DataLoader(TensorDataset(np.zeros((10, 2), np.float32), np.arange(10)), 4,
                         shuffle=True, transform=noise, seed=99)
    load_checkpoint(tmp_path / "c.safetensors", model, loaders=[loader2])
    loader = loader2
    assert draws() == expected


def test_crash_during_save_keeps_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "c.safetensors"
    model = _model()
    save_checkpoint(path, model, epoch=1)
    before = path.read_bytes()

    def crash(stream, payload):
        stream.write(payload[: len(payload) // 2])
        raise KeyboardInterrupt  # Ctrl-C in the middle of writing

    monkeypatch.setattr(serialization, "_write_payload", crash)
    _train_a_little(model)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model, epoch=2)
    def full(stream, payload):
        raise OSError(28, "disk full")

    monkeypatch.setattr(serialization, "_write_payload", full)
    with pytest.raises(OSError, match="disk full"):
        cr.save(model, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["c.safetensors"]
    assert read_checkpoint(path)["epoch"] == 1


def test_truncated_corrupt_and_foreign_files_name_the_file_and_problem(tmp_path):
    good = tmp_path / "good.safetensors"
    save_checkpoint(good, _model(), epoch=4)
    data = good.read_bytes()
    cases = {
        "truncated": (data[: len(data) - 10], "truncated"),
        "short": (data[:5], "too few for a safetensors header"),
        "flipped": (data[:-3] + bytes([data[-3] ^ 0xFF]) + data[-2:], "checksum mismatch"),
        "pickle": (pickle.dumps({"a": 1}), "looks like a Python pickle"),
        "zip": (b"PK\x03\x04" + b"\0" * 40, "ZIP archive"),
        "text": (b"hello, this is not a checkpoint at all", "not a safetensors file"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(content)
        with pytest.raises(CheckpointError, match=message) as info:
            load_checkpoint(path, _model())
        assert str(path) in str(info.value)
    with pytest.raises(CheckpointError, match="no such file"):
        cr.load(tmp_path / "missing.safetensors")
    with pytest.raises(CheckpointError, match="is a folder"):
        cr.load(tmp_path)


def test_weights_file_is_not_a_full_checkpoint(tmp_path):
    path = tmp_path / "w.safetensors"
    cr.save(_model(), path)
    with pytest.raises(CheckpointError, match="weights only"):
        load_checkpoint(path, _model())


def test_shape_mismatch_names_the_keys(tmp_path):
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, _model(hidden=4))
    with pytest.raises(CheckpointError, match=r"0\.weight \(checkpoint \(4, 3\), model \(5, 3\)\)"
                       r".*3\.weight"):
        load_checkpoint(path, _model(hidden=5))
    with pytest.raises(CheckpointError, match="missing keys 2.weight.*unexpected keys"):
        load_checkpoint(path, nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)))


def test_optimizer_of_another_kind_is_refused(tmp_path):
    model = _model()
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, model, optim.Adam(model.parameters()))
    with pytest.raises(CheckpointError, match="state of a Adam optimizer, not of a SGD"):
        load_checkpoint(path, model, optim.SGD(model.parameters(), lr=0.1))


def test_objects_that_need_pickle_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="extra.hook of type function"):
        save_checkpoint(tmp_path / "c.safetensors", _model(), extra={"hook": lambda: 0})
    assert not (tmp_path / "c.safetensors").exists()


def test_metadata_is_one_json_string(tmp_path):
    from safetensors import safe_open

    path = tmp_path / "c.safetensors"
    save_checkpoint(path, _model(), epoch=2, extra={"x": float("nan")})
    with safe_open(str(path), "np") as handle:
        metadata = handle.metadata()
    assert all(isinstance(v, str) for v in metadata.values())
    content = json.loads(metadata["content"])  # strict JSON: NaN is encoded, not bare
    assert content["epoch"] == 2
    assert np.isnan(read_checkpoint(path)["extra"]["x"])


def test_callback_state_is_saved_in_checkpoints(tmp_path, loaders, net):
    train, _ = loaders
    model = net()
    stopper = EarlyStopping("train_loss", patience=50)
    fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.1), train, epochs=2,
        callbacks=[stopper, Checkpoint(tmp_path)])
    fresh = EarlyStopping("train_loss", patience=50)
    load_checkpoint(tmp_path / "checkpoint.safetensors", net(), callbacks=[fresh, Checkpoint(
        tmp_path)])
    assert (fresh.best, fresh.best_epoch, fresh.wait) == (stopper.best, stopper.best_epoch,
                                                          stopper.wait)
    assert math.isfinite(fresh.best)


# ---------------------------------------------------------------------- objects and files
def _objects(seed, scheduler=True, two_groups=False, double=False):
    """A model, an Adam optimizer with state and a StepLR, all depending on ``seed``."""
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    if double:
        model.double()
    params = list(model.parameters())
    groups = [{"params": params[:2]}, {"params": params[2:], "lr": 0.02}] if two_groups else params
    optimizer = optim.Adam(groups, lr=0.01 + seed / 100)
    for _ in range(2):
        optimizer.zero_grad()
        x = cr.randn(8, 3)
        model(x.double() if double else x).sum().backward()
        optimizer.step()
    schedule = optim.lr_scheduler.StepLR(optimizer, 2, 0.5) if scheduler else None
    if schedule is not None:
        for _ in range(seed + 1):
            schedule.step()
    return model, optimizer, schedule


def _saved(tmp_path, name="good.safetensors", **options):
    """A real checkpoint of ``_objects(0, ...)``; ``callbacks``/``loaders`` go to the save."""
    callbacks = options.pop("callbacks", ())
    loaders = options.pop("loaders", ())
    model, optimizer, scheduler = _objects(0, **options)
    path = tmp_path / name
    save_checkpoint(path, model, optimizer, scheduler, epoch=4, step=8, callbacks=callbacks,
                    loaders=loaders, extra={"note": "x"})
    return path


def _split(data):
    """(length field, JSON header, tensor bytes) of safetensors bytes."""
    size = int.from_bytes(data[:8], "little")
    return data[:8], data[8:8 + size], data[8 + size:]


def _parts(path):
    """(tensors, metadata) of a safetensors file, read without chainrule's checks."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    with safe_open(str(path), "np") as handle:
        return load_file(str(path)), dict(handle.metadata())


def _signed(target, tensors, metadata):
    """Write ``target`` with chainrule's own signing, so that only later checks can refuse it."""
    target.write_bytes(serialization._serialize(tensors, metadata))
    return target


def _rewrite(path, edit, name="edited.safetensors"):
    """A copy of ``path`` whose decoded-as-JSON content ``edit`` changed, signed again, so that
    only the checks of the content's meaning can refuse it."""
    tensors, metadata = _parts(path)
    content = json.loads(metadata["content"])
    edit(content)
    metadata["content"] = json.dumps(content)
    return _signed(path.with_name(name), tensors, metadata)


def _snapshot(model, optimizer, scheduler):
    return copy.deepcopy({
        "model": model.state_dict(),
        "optimizer": None if optimizer is None else optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "rng": (np.random.get_state(), random.getstate(), backend.get_rng_state()),
    })


def _assert_same(actual, expected, where="state"):
    if isinstance(expected, np.ndarray):
        assert isinstance(actual, np.ndarray) and actual.dtype == expected.dtype, where
        assert np.array_equal(actual, expected), where
    elif isinstance(expected, dict):
        assert isinstance(actual, dict) and list(actual) == list(expected), where
        for key in expected:
            _assert_same(actual[key], expected[key], f"{where}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        assert type(actual) is type(expected) and len(actual) == len(expected), where
        for index, (a, e) in enumerate(zip(actual, expected)):
            _assert_same(a, e, f"{where}[{index}]")
    else:
        assert actual == expected or (actual != actual and expected != expected), where


def _assert_refused(path, model, optimizer=None, scheduler=None, match=None, **options):
    """Loading ``path`` raises CheckpointError naming it, and changes nothing."""
    before = _snapshot(model, optimizer, scheduler)
    with pytest.raises(CheckpointError, match=match) as info:
        load_checkpoint(path, model, optimizer, scheduler, **options)
    assert str(path) in str(info.value)
    _assert_same(_snapshot(model, optimizer, scheduler), before)
    return info.value


# ---------------------------------------------------------------------- the file itself
def test_missing_file(tmp_path):
    _assert_refused(tmp_path / "nothing.safetensors", *_objects(1), match="no such file")


def test_directory_given_as_path(tmp_path):
    _assert_refused(tmp_path, *_objects(1), match="is a folder")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    _assert_refused(path, *_objects(1), match="empty")


def test_file_that_is_not_safetensors(tmp_path):
    path = tmp_path / "notes.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00this is no JSON header, just text")
    _assert_refused(path, *_objects(1), match="not a safetensors file")


@pytest.mark.parametrize("where", ["length", "header", "tensors", "last byte"])
def test_truncated_file(tmp_path, where):
    data = _saved(tmp_path).read_bytes()
    length, header, _ = _split(data)
    cut = {"length": 5, "header": 8 + len(header) // 2, "tensors": 8 + len(header) + 10,
           "last byte": len(data) - 1}[where]
    path = tmp_path / "cut.safetensors"
    path.write_bytes(data[:cut])
    _assert_refused(path, *_objects(1), match="truncated")


def test_deeply_nested_json_header(tmp_path):
    header = b"[" * 100_000 + b"]" * 100_000
    path = tmp_path / "nested.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    _assert_refused(path, *_objects(1), match="nested")
    with pytest.raises(CheckpointError, match="nested") as info:
        cr.load(path)
    assert str(path) in str(info.value)


def test_deeply_nested_header_inside_an_object(tmp_path):
    header = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    path = tmp_path / "nested.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    _assert_refused(path, *_objects(1), match="nested")


def test_metadata_section_that_is_not_a_string_table(tmp_path):
    data = _saved(tmp_path).read_bytes()
    length, header, tensors = _split(data)
    document = json.loads(header)
    document["__metadata__"] = ["format", "chainrule"]
    new_header = json.dumps(document).encode()
    path = tmp_path / "listmeta.safetensors"
    path.write_bytes(len(new_header).to_bytes(8, "little") + new_header + tensors)
    _assert_refused(path, *_objects(1), match="metadata")


def test_flipped_digit_in_the_json_header_is_caught_by_the_checksum(tmp_path):
    data = _saved(tmp_path).read_bytes()
    length, header, tensors = _split(data)
    assert header.count(b'epoch\\": 4') == 1
    path = tmp_path / "flipped.safetensors"
    path.write_bytes(length + header.replace(b'epoch\\": 4', b'epoch\\": 5') + tensors)
    _assert_refused(path, *_objects(1), match="checksum")


def test_flipped_byte_in_the_learning_rate_is_caught_by_the_checksum(tmp_path):
    data = _saved(tmp_path).read_bytes()
    length, header, tensors = _split(data)
    assert header.count(b'"lr\\": 0.01') == 1
    path = tmp_path / "flipped.safetensors"
    path.write_bytes(length + header.replace(b'"lr\\": 0.01', b'"lr\\": 0.91') + tensors)
    _assert_refused(path, *_objects(1), match="checksum")


def test_flipped_byte_in_tensor_data(tmp_path):
    data = bytearray(_saved(tmp_path).read_bytes())
    data[-3] ^= 0xFF
    path = tmp_path / "flipped.safetensors"
    path.write_bytes(bytes(data))
    _assert_refused(path, *_objects(1), match="checksum")


def test_content_that_is_not_json(tmp_path):
    tensors, metadata = _parts(_saved(tmp_path))
    metadata["content"] = metadata["content"][:-20]
    path = _signed(tmp_path / "cut-content.safetensors", tensors, metadata)
    _assert_refused(path, *_objects(1), match="content")


def test_deeply_nested_content(tmp_path):
    tensors, metadata = _parts(_saved(tmp_path))
    content = json.loads(metadata["content"])
    content["extra"] = {"deep": "@"}
    metadata["content"] = json.dumps(content).replace('"@"', "[" * 100_000 + "]" * 100_000)
    path = _signed(tmp_path / "nested.safetensors", tensors, metadata)
    _assert_refused(path, *_objects(1), match="nested")


def _as_version_1(path, target):
    """``path`` rewritten as format version 1 wrote it: signed over its arrays only."""
    import hashlib

    from safetensors.numpy import save

    tensors, metadata = _parts(path)
    digest = hashlib.sha256()
    for name in sorted(tensors):
        array = tensors[name]
        digest.update(f"{name}|{array.dtype.str}|{array.shape}|".encode())
        digest.update(np.ascontiguousarray(array).tobytes())
    metadata.update(version="1", sha256=digest.hexdigest())
    target.write_bytes(save(tensors, metadata=metadata))
    return target


def test_old_format_checkpoint_asks_to_re_save(tmp_path):
    """Version 1 files were signed over their arrays only: their training state is unverified."""
    path = _as_version_1(_saved(tmp_path), tmp_path / "old.safetensors")
    _assert_refused(path, *_objects(1), match="re-save")
    weights = cr.load(path)  # the arrays are still verified by the old checksum
    model, _, _ = _objects(0)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(weights[key], value)


def test_old_format_weights_file_still_loads(tmp_path):
    model = _objects(0)[0]
    cr.save(model, tmp_path / "w.safetensors")
    path = _as_version_1(tmp_path / "w.safetensors", tmp_path / "old.safetensors")
    weights = cr.load(path)
    assert list(weights) == list(model.state_dict())
    _assert_same(weights, dict(model.state_dict()))
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        cr.load(path)


def test_unknown_format_version(tmp_path):
    tensors, metadata = _parts(_saved(tmp_path))
    metadata["version"] = "99"
    path = _signed(tmp_path / "future.safetensors", tensors, metadata)
    _assert_refused(path, *_objects(1), match="version '99'")


# ---------------------------------------------------------------------- the content's structure
@pytest.mark.parametrize("edit, match", [
    (lambda c: c.update(epoch="three"), "epoch"),
    (lambda c: c.update(step=-1), "step"),
    (lambda c: c.update(epoch=True), "epoch"),
    (lambda c: c.pop("rng"), "rng"),
    (lambda c: c.pop("optimizer"), "optimizer"),
    (lambda c: c.update(surprise=1), "surprise"),
    (lambda c: c.update(optimizer=[1, 2]), "optimizer"),
    (lambda c: c["optimizer"].pop("class"), "class"),
    (lambda c: c["optimizer"]["state"].update(param_groups={"params": []}), "param_groups"),
    (lambda c: c["optimizer"]["state"]["param_groups"][0].update(params="all"), "params"),
    (lambda c: c["optimizer"]["state"]["param_groups"][0].update(params=[0, 0, 1, 2, 3, 4]),
     "params"),
    (lambda c: c["optimizer"]["state"].update(state=[1]), "state"),
    (lambda c: c.update(model_keys=["0.weight"]), "model_keys"),
    (lambda c: c.update(history={"epoch": 1}), "history"),
    (lambda c: c.update(callbacks={}), "callbacks"),
    (lambda c: c["rng"].update(python="abc"), "python"),
    (lambda c: c.update(extra={"__tensor__": "arrays/9999"}), "arrays/9999"),
    (lambda c: c.update(extra={"__float__": "abc"}), "__float__"),
    (lambda c: c.update(extra={"__items__": 3}), "__items__"),
], ids=["epoch-string", "step-negative", "epoch-bool", "no-rng", "no-optimizer-entry",
        "unknown-entry", "optimizer-list", "optimizer-no-class", "param-groups-dict",
        "params-string", "params-repeated", "state-list", "model-keys", "history-dict",
        "callbacks-dict", "python-rng-string", "missing-tensor", "bad-float", "bad-items"])
def test_malformed_content(tmp_path, edit, match):
    path = _rewrite(_saved(tmp_path), edit)
    _assert_refused(path, *_objects(1), match=match)


# ---------------------------------------------------------------------- fitting the objects
def test_optimizer_class_renamed_and_re_signed(tmp_path):
    path = _rewrite(_saved(tmp_path), lambda c: c["optimizer"].update({"class": "AdamW"}))
    _assert_refused(path, *_objects(1), match="AdamW optimizer, not of a Adam")


def test_optimizer_of_another_kind(tmp_path):
    model, _, _ = _objects(1, scheduler=False)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = optim.lr_scheduler.StepLR(optimizer, 2)
    _assert_refused(_saved(tmp_path), model, optimizer, scheduler, match="not of a SGD")


def test_param_group_count_mismatch(tmp_path):
    _assert_refused(_saved(tmp_path, two_groups=True), *_objects(1), match="2 parameter groups")


def test_param_group_size_mismatch(tmp_path):
    model, _, _ = _objects(1)
    params = list(model.parameters())
    optimizer = optim.Adam([{"params": params[:3]}, {"params": params[3:]}])
    scheduler = optim.lr_scheduler.StepLR(optimizer, 2, 0.5)
    _assert_refused(_saved(tmp_path, two_groups=True), model, optimizer, scheduler,
                    match="group 0")


def test_param_group_missing_option(tmp_path):
    path = _rewrite(_saved(tmp_path),
                    lambda c: c["optimizer"]["state"]["param_groups"][0].pop("eps"))
    _assert_refused(path, *_objects(1), match="eps")


def test_param_group_unknown_option(tmp_path):
    path = _rewrite(_saved(tmp_path),
                    lambda c: c["optimizer"]["state"]["param_groups"][0].update(momentum=0.9))
    _assert_refused(path, *_objects(1), match="momentum")


@pytest.mark.parametrize("option, value", [("lr", "0.1"), ("amsgrad", "yes"), ("lr", -1.0),
                                           ("betas", [0.9])])
def test_param_group_option_of_the_wrong_type_or_value(tmp_path, option, value):
    path = _rewrite(_saved(tmp_path),
                    lambda c: c["optimizer"]["state"]["param_groups"][0].update({option: value}))
    _assert_refused(path, *_objects(1), match=option)


def test_optimizer_state_of_the_wrong_type(tmp_path):
    def damage(content):
        items = content["optimizer"]["state"]["state"]["__items__"]
        items[0][1]["exp_avg"] = "zeros"

    _assert_refused(_rewrite(_saved(tmp_path), damage), *_objects(1), match="exp_avg")


def test_optimizer_state_of_the_wrong_shape(tmp_path):
    def swap(content):
        items = content["optimizer"]["state"]["state"]["__items__"]
        items[0][1]["exp_avg"], items[1][1]["exp_avg"] = items[1][1]["exp_avg"], items[0][1][
            "exp_avg"]

    _assert_refused(_rewrite(_saved(tmp_path), swap), *_objects(1), match="shape")


def test_checkpoint_without_scheduler_loaded_with_one(tmp_path):
    _assert_refused(_saved(tmp_path, scheduler=False), *_objects(1),
                    match="no scheduler state, but a scheduler was given")


def test_checkpoint_with_scheduler_loaded_without_one(tmp_path):
    model, optimizer, _ = _objects(1, scheduler=False)
    _assert_refused(_saved(tmp_path), model, optimizer, None, match="StepLR scheduler")


def test_scheduler_without_its_optimizer(tmp_path):
    model, _, scheduler = _objects(1)
    _assert_refused(_saved(tmp_path), model, None, scheduler, match="optimizer")


def test_scheduler_of_another_optimizer(tmp_path):
    model, optimizer, _ = _objects(1)
    _, _, scheduler = _objects(2)
    _assert_refused(_saved(tmp_path), model, optimizer, scheduler, match="optimizer")


def test_scheduler_of_another_kind(tmp_path):
    model, optimizer, _ = _objects(1, scheduler=False)
    scheduler = optim.lr_scheduler.ExponentialLR(optimizer, 0.9)
    _assert_refused(_saved(tmp_path), model, optimizer, scheduler, match="not of a ExponentialLR")


@pytest.mark.parametrize("key, value", [("last_epoch", "x"), ("base_lrs", [0.1, 0.2]),
                                        ("gamma", None), ("_step_count", [1]),
                                        ("_is_initial", 0)])
def test_scheduler_state_of_the_wrong_type(tmp_path, key, value):
    path = _rewrite(_saved(tmp_path), lambda c: c["scheduler"]["state"].update({key: value}))
    _assert_refused(path, *_objects(1), match=key)


def test_scheduler_state_with_missing_entry(tmp_path):
    path = _rewrite(_saved(tmp_path), lambda c: c["scheduler"]["state"].pop("last_epoch"))
    _assert_refused(path, *_objects(1), match="last_epoch")


def test_model_shape_mismatch(tmp_path):
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))
    optimizer = optim.Adam(model.parameters())
    _assert_refused(_saved(tmp_path), model, optimizer, optim.lr_scheduler.StepLR(optimizer, 2),
                    match=r"0\.weight \(checkpoint \(4, 3\), model \(5, 3\)\)")


def test_model_missing_keys(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    _assert_refused(_saved(tmp_path), model, match="unexpected keys 1.weight")


def test_model_dtype_mismatch(tmp_path):
    _assert_refused(_saved(tmp_path, double=True), *_objects(1), match="float64.*float32")


def test_damaged_numpy_random_state(tmp_path):
    path = _rewrite(_saved(tmp_path), lambda c: c["rng"]["numpy"]["__tuple__"].__setitem__(
        0, "NoSuchGenerator"))
    _assert_refused(path, *_objects(1), match="random")


def test_random_state_cannot_name_a_function(tmp_path):
    """The generator's name comes from the file: it must not pick any callable of np.random."""
    path = _rewrite(_saved(tmp_path),
                    lambda c: c["rng"]["chainrule"].update(bit_generator="seed"))
    _assert_refused(path, *_objects(1), match="seed")


def test_loader_count_mismatch(tmp_path):
    def loader():
        return DataLoader(TensorDataset(np.zeros((6, 2), np.float32), np.arange(6)), 2,
                          shuffle=True, transform=transforms.GaussianNoise(0.1, seed=1), seed=0)

    path = _saved(tmp_path, loaders=[loader()])
    _assert_refused(path, *_objects(1), match="loader", loaders=[loader(), loader()])
    bare = DataLoader(TensorDataset(np.zeros((6, 2), np.float32), np.arange(6)), 2, seed=0)
    _assert_refused(path, *_objects(1), match="generator", loaders=[bare])


def test_callback_state_of_the_wrong_type(tmp_path):
    path = _rewrite(_saved(tmp_path, callbacks=[EarlyStopping("val_loss")]),
                    lambda c: c["callbacks"][0]["state"].update(best="x"))
    stopper = EarlyStopping("val_loss")
    _assert_refused(path, *_objects(1), match="EarlyStopping", callbacks=[stopper])
    assert stopper.best == float("inf")


def test_callback_whose_load_fails_restores_everything(tmp_path):
    class Fragile(EarlyStopping):
        def load_state_dict(self, state):
            self.wait = 99
            raise RuntimeError("cannot restore")

    path = _saved(tmp_path, callbacks=[Fragile("val_loss")])
    fragile = Fragile("val_loss")
    _assert_refused(path, *_objects(1), match="cannot restore", callbacks=[fragile])
    assert fragile.wait == 0


def test_weights_file_keys_entry_damaged(tmp_path):
    path = tmp_path / "w.safetensors"
    cr.save(_objects(0)[0], path)
    length, header, tensors = _split(path.read_bytes())
    assert header.count(b'\\"0.weight\\"') == 1  # in the saved list of names only
    damaged = header.replace(b'\\"0.weight\\"', b'\\"0.weighs\\"')
    path.write_bytes(length + damaged + tensors)
    with pytest.raises(CheckpointError, match="checksum") as info:
        cr.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("damage", ["missing", "folder", "empty", "truncated", "nested",
                                    "metadata digit"])
def test_weights_loading_refuses_the_same_damage(tmp_path, damage):
    good = tmp_path / "w.safetensors"
    cr.save(_objects(0)[0], good, metadata={"epoch": "7"})
    data = good.read_bytes()
    length, header, tensors = _split(data)
    nested = b"[" * 100_000 + b"]" * 100_000
    contents = {"empty": b"", "truncated": data[:-4],
                "nested": len(nested).to_bytes(8, "little") + nested,
                "metadata digit": length + header.replace(b'"epoch":"7"', b'"epoch":"8"') + tensors}
    path = {"missing": tmp_path / "nothing.safetensors", "folder": tmp_path}.get(
        damage, tmp_path / "damaged.safetensors")
    if damage in contents:
        assert contents[damage] != data
        path.write_bytes(contents[damage])
    with pytest.raises(CheckpointError) as info:
        cr.load(path)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------- what must load
_OPTIMIZERS = {
    "SGD": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    "Adagrad": lambda p: optim.Adagrad(p, lr=0.1),
    "RMSprop": lambda p: optim.RMSprop(p, lr=0.01, momentum=0.5, centered=True),
    "Adam": lambda p: optim.Adam(p, lr=0.01, amsgrad=True),
    "AdamW": lambda p: optim.AdamW(p, lr=0.01),
    "LBFGS": lambda p: optim.LBFGS(p, lr=0.5, max_iter=3, line_search_fn="strong_wolfe"),
    "BFGS": lambda p: optim.BFGS(p, lr=0.5, max_iter=3),
    "Newton": lambda p: optim.Newton(p, lr=0.5),
    "NewtonCG": lambda p: optim.NewtonCG(p, lr=0.5),
}
_SCHEDULERS = {
    "StepLR": lambda o: optim.lr_scheduler.StepLR(o, 2, 0.5),
    "MultiStepLR": lambda o: optim.lr_scheduler.MultiStepLR(o, [1, 3, 3], 0.5),
    "ExponentialLR": lambda o: optim.lr_scheduler.ExponentialLR(o, 0.9),
    "CosineAnnealingLR": lambda o: optim.lr_scheduler.CosineAnnealingLR(o, 4),
    "LinearLR": lambda o: optim.lr_scheduler.LinearLR(o, 0.25, total_iters=3),
    "OneCycleLR": lambda o: optim.lr_scheduler.OneCycleLR(o, 1.0, total_steps=10),
    "ReduceLROnPlateau": lambda o: optim.lr_scheduler.ReduceLROnPlateau(o, patience=0),
    "LambdaLR": lambda o: optim.lr_scheduler.LambdaLR(o, lambda epoch: 0.9 ** epoch),
}


def _trained(seed, make_optimizer, make_scheduler):
    cr.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1))
    optimizer = make_optimizer(list(model.parameters()))
    scheduler = make_scheduler(optimizer)
    x, y = cr.randn(6, 3), cr.randn(6, 1)

    def closure():
        optimizer.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(3):
        optimizer.step(closure)
        if isinstance(scheduler, optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step(1.0)
        else:
            scheduler.step()
    return model, optimizer, scheduler


@pytest.mark.parametrize("optimizer_name, scheduler_name",
                         [(name, "StepLR") for name in _OPTIMIZERS]
                         + [("SGD", name) for name in _SCHEDULERS if name != "StepLR"])
def test_every_optimizer_and_scheduler_loads_exactly(tmp_path, optimizer_name, scheduler_name):
    """The checks refuse nothing that save_checkpoint writes."""
    make = (_OPTIMIZERS[optimizer_name], _SCHEDULERS[scheduler_name])
    saved = _trained(0, *make)
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, *saved, epoch=3)
    model, optimizer, scheduler = _trained(1, *make)
    load_checkpoint(path, model, optimizer, scheduler)
    expected = _snapshot(*saved)
    _assert_same(_snapshot(model, optimizer, scheduler), expected)


def test_weights_alone_load_from_a_full_checkpoint(tmp_path):
    path = _saved(tmp_path)
    expected = _objects(0)[0].state_dict()
    model, optimizer, scheduler = _objects(1)
    before = _snapshot(model, optimizer, scheduler)
    load_checkpoint(path, model, restore_rng=False)
    _assert_same(model.state_dict(), expected)
    after = _snapshot(model, optimizer, scheduler)
    for part in ("optimizer", "scheduler", "rng"):
        _assert_same(after[part], before[part], part)


# ---------------------------------------------------------------------- random damage
_REFERENCE: dict = {}


def _reference():
    """The bytes of one valid checkpoint, and everything as it is after loading it (built
    once)."""
    if not _REFERENCE:
        with tempfile.TemporaryDirectory() as folder:
            path = _saved(Path(folder))
            _REFERENCE["bytes"] = path.read_bytes()
            model, optimizer, scheduler = _objects(1)
            content = load_checkpoint(path, model, optimizer, scheduler)
            _REFERENCE["state"] = _snapshot(model, optimizer, scheduler)
            _REFERENCE["content"] = copy.deepcopy({k: v for k, v in content.items()
                                                   if k not in ("path", "history")})
    return _REFERENCE["bytes"], _REFERENCE["state"], _REFERENCE["content"]


@st.composite
def _damaged(draw):
    data, _, _ = _reference()
    header_end = 8 + int.from_bytes(data[:8], "little")
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        if draw(st.booleans()):  # mostly inside the header, where the interesting bytes are
            position = draw(st.integers(0, header_end - 1))
        else:
            position = draw(st.integers(0, len(data) - 1))
        # printable bytes often keep the JSON valid, so that only the checksum can tell
        data[position] = draw(st.integers(0, 255) | st.sampled_from(b"0123456789eE.-+ az"))
    if draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return bytes(data)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(_damaged())
def test_random_damage_is_refused_or_harmless(damaged):
    _, loaded_state, loaded_content = _reference()
    model, optimizer, scheduler = _objects(1)
    before = _snapshot(model, optimizer, scheduler)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "damaged.safetensors"
        path.write_bytes(damaged)
        try:
            content = load_checkpoint(path, model, optimizer, scheduler)
        except CheckpointError as error:
            assert str(path) in str(error)
            _assert_same(_snapshot(model, optimizer, scheduler), before)
            return
    # the damage hit only bytes that carry no value (the header's padding, JSON whitespace)
    _assert_same({k: v for k, v in content.items() if k not in ("path", "history")},
                 loaded_content, "content")
    _assert_same(_snapshot(model, optimizer, scheduler), loaded_state)
