"""chainrule/onnx/run.py: a run folder's model in onnxruntime predicts what ``chainrule predict``
does, on the test split; bad folders give one clear error (``chainrule export``: one line, exit
status 2)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.onnx
from chainrule import cli, models
from chainrule.data import datasets

RUN = [sys.executable, "-m", "chainrule"]
ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def _session(path):
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _cli(*arguments, cwd):
    done = subprocess.run(RUN + [str(a) for a in arguments], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=ENV)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("options", [
    ("--model", "cnn", "--channels", "4", "--hidden", "8"),
    ("--model", "mlp", "--hidden", "16", "--pca", "12"),
], ids=["cnn", "mlp-pca"])
def test_a_trained_run_predicts_in_onnxruntime_as_chainrule_predict(tmp_path, options):
    pytest.importorskip("onnx")
    run = tmp_path / "run"
    _cli("train", "--dataset", "digits", "--epochs", 1, "--quiet", "--out", run, *options,
         cwd=tmp_path)
    _cli("export", run, "--opset", 13, cwd=tmp_path)
    path = run / "model.onnx"
    _, test = datasets.digits()
    inputs = test.arrays[0].astype(np.float32)
    np.save(tmp_path / "test.npy", inputs)
    _cli("predict", run, tmp_path / "test.npy", "--probabilities", "--out",
         tmp_path / "probabilities.npy", cwd=tmp_path)
    probabilities = np.load(tmp_path / "probabilities.npy")
    (logits,) = _session(path).run(None, {"input": inputs})
    np.testing.assert_array_equal(logits.argmax(axis=1), probabilities.argmax(axis=1))
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(shifted / shifted.sum(axis=1, keepdims=True), probabilities,
                               rtol=1e-5, atol=1e-6)


def _run_folder(folder, pca=None):
    """A run folder as ``chainrule train`` writes it, without training (for the library path)."""
    spec = {"preset": "mlp", "kwargs": {"in_features": 6 if pca is None else pca[1].shape[0],
                                        "hidden": [5], "out_features": 3, "batch_norm": True}}
    model = models.build(spec)
    folder.mkdir()
    cr.save(model, folder / "model.safetensors")
    if pca is not None:
        cr.save({"mean": pca[0], "components": pca[1]}, folder / "pca.safetensors")
    (folder / "config.json").write_text(json.dumps(
        {"config": {}, "model": spec, "input_shape": [6], "num_classes": 3}))
    return model.eval()


def test_the_pca_of_a_run_becomes_the_first_nodes_of_the_graph(tmp_path):
    pytest.importorskip("onnx")
    rng = np.random.default_rng(0)
    mean = rng.standard_normal(6).astype(np.float32)
    components = rng.standard_normal((4, 6)).astype(np.float32)
    model = _run_folder(tmp_path / "run", (mean, components))
    path = cr.onnx.export_run(tmp_path / "run", out=tmp_path / "pca.onnx")
    session = _session(path)
    for batch in (1, 7):
        x = rng.standard_normal((batch, 6)).astype(np.float32)
        expected = model(cr.tensor((x - mean) @ components.T)).data
        np.testing.assert_allclose(session.run(None, {"input": x})[0], expected,
                                   rtol=1e-5, atol=1e-6)


def test_folders_that_are_not_runs_are_refused_with_one_clear_error(tmp_path):
    with pytest.raises(cr.onnx.RunFolderError, match="no such run folder"):
        cr.onnx.export_run(tmp_path / "missing")
    with pytest.raises(cr.onnx.RunFolderError, match=r"not a run folder \(no config.json\)"):
        cr.onnx.export_run(tmp_path)
    _run_folder(tmp_path / "run")
    (tmp_path / "run" / "model.safetensors").unlink()
    with pytest.raises(cr.onnx.RunFolderError, match="holds no weights"):
        cr.onnx.export_run(tmp_path / "run")
    (tmp_path / "run" / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(cr.onnx.RunFolderError, match="cannot rebuild the model"):
        cr.onnx.export_run(tmp_path / "run")


def test_the_export_command_writes_the_file_and_fails_in_one_line(tmp_path, capsys):
    pytest.importorskip("onnx")
    model = _run_folder(tmp_path / "run")
    out = tmp_path / "net.onnx"
    assert cli.main(["export", str(tmp_path / "run"), "--out", str(out), "--opset", "13"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    x = np.random.default_rng(1).standard_normal((7, 6)).astype(np.float32)
    np.testing.assert_allclose(_session(out).run(None, {"input": x})[0],
                               model(cr.tensor(x)).data, rtol=1e-5, atol=1e-6)
    for arguments, message in (([str(tmp_path / "missing")], "no such run folder"),
                               ([str(tmp_path / "run"), "--opset", "5"], "opset must be")):
        assert cli.main(["export", *arguments]) == 2
        error = capsys.readouterr().err
        assert error.startswith("chainrule export: error: ") and message in error
        assert error.count("\n") == 1
