"""Resume is exact: N epochs in one go equal k epochs, a fresh process, and N - k more."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import chainrule as cr

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


def _run(tmp_path, *args):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run([sys.executable, str(script), *map(str, args)], check=True, env=env,
                   cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_resume_in_a_fresh_process_is_bitwise_identical(tmp_path):
    whole, split = tmp_path / "whole", tmp_path / "split"
    whole.mkdir()
    split.mkdir()
    _run(tmp_path, 5, whole)
    _run(tmp_path, 2, split)
    _run(tmp_path, 5, split, split / "checkpoint.safetensors")
    expected, resumed = cr.load(whole / "final.safetensors"), cr.load(split / "final.safetensors")
    assert list(expected) == list(resumed)
    for key in expected:
        np.testing.assert_array_equal(resumed[key], expected[key], err_msg=key)
