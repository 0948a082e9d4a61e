"""Weights and full checkpoints: round trips, atomic writes, damaged and foreign files."""

import json
import os
import pickle
import random

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset, transforms
from chainrule import serialization as storage
from chainrule.train import CheckpointError, History, load_checkpoint, read_checkpoint
from chainrule.train import save_checkpoint


def _model(hidden=4):
    return nn.Sequential(nn.Linear(3, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                         nn.Linear(hidden, 2))


def _trained(model):
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    for _ in range(3):
        optimizer.zero_grad()
        model(cr.randn(8, 3)).sum().backward()
        optimizer.step()
    return optimizer


def test_weights_round_trip_keeps_keys_order_dtypes_and_values(tmp_path):
    model = _model()
    _trained(model)
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
    optimizer = _trained(model)
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

    monkeypatch.setattr(storage, "_write_payload", crash)
    _trained(model)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model, epoch=2)
    def full(stream, payload):
        raise OSError(28, "disk full")

    monkeypatch.setattr(storage, "_write_payload", full)
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
