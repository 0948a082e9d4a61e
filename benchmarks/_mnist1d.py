"""The MNIST-1D paper's models and recipe (Greydanus 2020) in chainrule, PyTorch and JAX.

Models, as in the paper's code: logistic regression (Linear 40→10), the MLP 40-100-100-10 with
ReLU, and the CNN: Conv1d(1, 25, 5, stride 2, padding 1) → ReLU → Conv1d(25, 25, 3, 2, 1) → ReLU
→ Conv1d(25, 25, 3, 2, 1) → ReLU → Linear(125, 10). Recipe: Adam (lr 1e-2, PyTorch's defaults
otherwise), batch 100, cross-entropy. ``*_trainer(model)`` returns ``(step, accuracy)``: ``step(x,
y)`` runs one training step on NumPy arrays and returns the loss (as each library's own value,
finished: JAX's is waited for), ``accuracy(x, y)`` the test accuracy. All three start from the
same initial weights (drawn by chainrule).
"""

from __future__ import annotations

import numpy as np

import chainrule as cr
from chainrule import nn, optim

MODELS = ("logistic", "mlp", "cnn")
BATCH, LR = 100, 1e-2


def load_data():
    """MNIST-1D (train x (4000, 40), y; test x, y), float32 / int64; random signals of the same
    shapes when the mnist1d package is missing (printed)."""
    try:
        train, test = cr.data.datasets.mnist1d(flatten=True)
        return train.arrays[0], train.arrays[1], test.arrays[0], test.arrays[1]
    except ImportError:
        print("mnist1d not installed: random signals of MNIST-1D's shapes instead")
        rng = np.random.default_rng(0)
        return (rng.standard_normal((4000, 40), dtype=np.float32), rng.integers(0, 10, 4000),
                rng.standard_normal((1000, 40), dtype=np.float32), rng.integers(0, 10, 1000))


def chainrule_model(name: str, seed: int = 0) -> nn.Module:
    cr.manual_seed(seed)
    if name == "logistic":
        return nn.Linear(40, 10)
    if name == "mlp":
        return nn.Sequential(nn.Linear(40, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(),
                             nn.Linear(100, 10))
    return nn.Sequential(nn.Unflatten(1, (1, 40)), nn.Conv1d(1, 25, 5, stride=2, padding=1),
                         nn.ReLU(), nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Conv1d(25, 25, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(125, 10))


def initial_weights(name: str) -> list[np.ndarray]:
    """The chainrule model's initial parameters, in PyTorch's order."""
    return [p.data.copy() for p in chainrule_model(name).parameters()]


def chainrule_trainer(name: str):
    model = chainrule_model(name)
    optimizer = optim.Adam(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()

    def step(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(cr.from_numpy(x)), cr.from_numpy(y))
        loss.backward()
        optimizer.step()
        return loss

    def accuracy(x, y):
        with cr.no_grad():
            return float((model(cr.from_numpy(x)).data.argmax(1) == y).mean())

    return step, accuracy


def torch_trainer(name: str, torch):
    tn = torch.nn
    if name == "logistic":
        model = tn.Linear(40, 10)
    elif name == "mlp":
        model = tn.Sequential(tn.Linear(40, 100), tn.ReLU(), tn.Linear(100, 100), tn.ReLU(),
                              tn.Linear(100, 10))
    else:
        model = tn.Sequential(tn.Unflatten(1, (1, 40)), tn.Conv1d(1, 25, 5, stride=2, padding=1),
                              tn.ReLU(), tn.Conv1d(25, 25, 3, stride=2, padding=1), tn.ReLU(),
                              tn.Conv1d(25, 25, 3, stride=2, padding=1), tn.ReLU(), tn.Flatten(),
                              tn.Linear(125, 10))
    with torch.no_grad():
        for p, value in zip(model.parameters(), initial_weights(name)):
            p.copy_(torch.from_numpy(value))
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = tn.CrossEntropyLoss()

    def step(x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        optimizer.step()
        return loss

    def accuracy(x, y):
        with torch.no_grad():
            # a copy: the dataset's arrays are read-only, which torch.from_numpy warns about
            return float((model(torch.from_numpy(x.copy())).argmax(1).numpy() == y).mean())

    return step, accuracy


def jax_trainer(name: str, jax):
    """The same model and Adam (PyTorch's formula) as one ``jax.jit``-compiled step."""
    jnp = jax.numpy
    params = [jnp.asarray(w) for w in initial_weights(name)]

    def forward(params, x):
        if name == "logistic":
            return x @ params[0].T + params[1]
        if name == "mlp":
            h = jax.nn.relu(x @ params[0].T + params[1])
            h = jax.nn.relu(h @ params[2].T + params[3])
            return h @ params[4].T + params[5]
        h = x[:, None, :]
        for index, (kernel_stride) in enumerate((2, 2, 2)):
            h = jax.lax.conv_general_dilated(h, params[2 * index], (kernel_stride,), [(1, 1)],
                                             dimension_numbers=("NCH", "OIH", "NCH"))
            h = jax.nn.relu(h + params[2 * index + 1][None, :, None])
        h = h.reshape(h.shape[0], -1)
        return h @ params[6].T + params[7]

    def loss_fn(params, x, y):
        log_probs = jax.nn.log_softmax(forward(params, x))
        return -jnp.mean(jnp.take_along_axis(log_probs, y[:, None], axis=1))

    beta1, beta2, eps = 0.9, 0.999, 1e-8

    @jax.jit
    def train_step(params, m, v, t, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        t = t + 1
        m = [beta1 * a + (1 - beta1) * g for a, g in zip(m, grads)]
        v = [beta2 * a + (1 - beta2) * g * g for a, g in zip(v, grads)]
        c1, c2 = 1 - beta1 ** t, jnp.sqrt(1 - beta2 ** t)
        params = [p - LR / c1 * a / (jnp.sqrt(b) / c2 + eps) for p, a, b in zip(params, m, v)]
        return params, m, v, t, loss

    state = {"params": params, "m": [jnp.zeros_like(p) for p in params],
             "v": [jnp.zeros_like(p) for p in params], "t": jnp.asarray(0.0, jnp.float32)}

    def step(x, y):
        out = train_step(state["params"], state["m"], state["v"], state["t"], jnp.asarray(x),
                         jnp.asarray(y))
        state["params"], state["m"], state["v"], state["t"], loss = out
        return loss.block_until_ready()

    def accuracy(x, y):
        logits = jax.jit(forward)(state["params"], jnp.asarray(x))
        return float((np.asarray(logits).argmax(1) == y).mean())

    return step, accuracy


def batch_order(steps: int, samples: int, seed: int = 0) -> list[np.ndarray]:
    """Indices of ``steps`` batches of ``BATCH``: a fresh permutation of the samples per epoch."""
    rng = np.random.default_rng(seed)
    per_epoch = samples // BATCH
    order = []
    while len(order) < steps:
        permutation = rng.permutation(samples)
        order.extend(permutation[i * BATCH:(i + 1) * BATCH] for i in range(per_epoch))
    return order[:steps]
