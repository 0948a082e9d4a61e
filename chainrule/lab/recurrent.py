"""Lab 9 — recurrent networks and backpropagation through time: a tanh RNN, a ReLU RNN, a GRU
and an LSTM on a task that needs memory (the class of a sequence is its first symbol; the other
T - 1 steps are distractor symbols).

Recorded: the norm of the loss's gradient with respect to the hidden state at every step,
‖∂L/∂h_t‖, at initialization and after training (measured with the cells, ``nn.RNNCell`` etc.,
carrying the trained weights, so that each h_t is a tensor of its own); test accuracy against
the sequence length; and a ReLU RNN started near the edge (W_hh = 1.1·I) trained with plain SGD
with and without gradient clipping.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.diagnostics import plots
from chainrule.lab._common import Result, Table
from chainrule.nn import functional as F

TITLE = "vanishing and exploding gradients through time: RNN, GRU, LSTM"
KINDS = {"tanh RNN": "RNN_TANH", "ReLU RNN": "RNN_RELU", "GRU": "GRU", "LSTM": "LSTM"}
SYMBOLS = 4  # classes; the distractors are 4 other symbols
LR = 1e-2  # Adam's rate (the MNIST-1D paper's; at 3e-3 no model learned T = 40 in 1000 steps)


def first_symbol_task(count: int, steps: int, rng: np.random.Generator) -> tuple:
    """(x (count, steps, 2·SYMBOLS) one-hot, y): y is the symbol at step 0, the rest noise."""
    labels = rng.integers(0, SYMBOLS, count)
    symbols = rng.integers(SYMBOLS, 2 * SYMBOLS, (count, steps))
    symbols[:, 0] = labels
    return np.eye(2 * SYMBOLS, dtype=np.float32)[symbols], labels


class Classifier(nn.Module):
    """A recurrent layer (batch first) and a Linear layer on its last output."""

    def __init__(self, kind: str, hidden: int):
        super().__init__()
        mode = KINDS[kind]
        if mode.startswith("RNN"):
            self.rnn = nn.RNN(2 * SYMBOLS, hidden, nonlinearity=mode[4:].lower(),
                              batch_first=True)
        else:
            self.rnn = getattr(nn, mode)(2 * SYMBOLS, hidden, batch_first=True)
        self.head = nn.Linear(hidden, SYMBOLS)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def state_gradients(model: Classifier, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """‖∂L/∂h_t‖ per step t (mean over the batch of each sequence's norm; L summed over the
    batch), by running the layer's weights as a cell step by step."""
    rnn = model.rnn
    cell_type = {"RNN_TANH": nn.RNNCell, "RNN_RELU": nn.RNNCell, "GRU": nn.GRUCell,
                 "LSTM": nn.LSTMCell}[rnn.mode]
    options = {"nonlinearity": rnn.nonlinearity} if rnn.mode.startswith("RNN") else {}
    cell = cell_type(rnn.input_size, rnn.hidden_size, **options)
    cell.load_state_dict({name[:-3]: value for name, value in rnn.state_dict().items()})
    inputs, state, hidden = cr.tensor(x), None, []
    for t in range(x.shape[1]):
        state = cell(inputs[:, t], state)
        h = state[0] if isinstance(state, tuple) else state
        h.retain_grad()
        hidden.append(h)
    loss = F.cross_entropy(model.head(hidden[-1]), cr.tensor(y), reduction="sum")
    loss.backward()
    return np.array([np.linalg.norm(h.grad.data, axis=1).mean() for h in hidden])


def train(model: nn.Module, steps: int, length: int, rng, optimizer, clip: float | None = None,
          batch: int = 64) -> tuple[list, list]:
    """Fresh batches of the task each step; (losses, gradient norms before clipping)."""
    losses, norms = [], []
    for _ in range(steps):
        x, y = first_symbol_task(batch, length, rng)
        loss = F.cross_entropy(model(cr.tensor(x)), cr.tensor(y))
        optimizer.zero_grad()
        loss.backward()
        total = nn.utils.clip_grad_norm_(model.parameters(), clip if clip else math.inf)
        losses.append(float(loss.item()))
        norms.append(float(total.item()))
        if not (math.isfinite(losses[-1]) and math.isfinite(norms[-1])):
            break
        optimizer.step()
    return losses, norms


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """The fraction of sequences in ``x`` whose predicted class is ``y``."""
    with cr.no_grad():
        return float((model(cr.tensor(x)).data.argmax(1) == y).mean())


def _edge_relu_rnn(hidden: int) -> Classifier:
    """A ReLU RNN whose recurrent matrix is 1.1·I: the state (and its gradient) grows 1.1× per
    step wherever the units are active."""
    model = Classifier("ReLU RNN", hidden)
    with cr.no_grad():
        model.rnn.weight_hh_l0.data[...] = 1.1 * np.eye(hidden, dtype=np.float32)
    return model


def run(out: Path, smoke: bool = False, seed: int = 0) -> Result:
    """Gradients through time at init and after training, accuracy against length, clipping."""
    hidden = 16 if smoke else 32
    lengths = (5, 20) if smoke else (5, 10, 20, 40)
    steps = 150 if smoke else 1000
    probe_length = lengths[-1]
    rng = np.random.default_rng(seed)
    probe = first_symbol_task(256, probe_length, np.random.default_rng(seed + 1))

    grads, accuracies, rows = {}, {kind: {} for kind in KINDS}, []
    for kind in KINDS:
        for length in lengths:
            cr.manual_seed(seed)
            model = Classifier(kind, hidden)
            if length == probe_length:
                at_init = state_gradients(model, *probe)
            optimizer = optim.Adam(model.parameters(), lr=LR)
            losses, _ = train(model, steps, length, rng, optimizer, clip=1.0)
            test = first_symbol_task(1000, length, np.random.default_rng(seed + 2))
            accuracies[kind][length] = accuracy(model, *test)
            if length == probe_length:
                trained = state_gradients(model, *probe)
                grads[kind] = (at_init, trained)
        at_init, trained = grads[kind]
        rows.append([kind, *[accuracies[kind][n] for n in lengths],
                     at_init[0] / at_init[-1], trained[0] / trained[-1]])
    table = Table(f"First-symbol task ({SYMBOLS} classes, chance {1 / SYMBOLS:.2f}), hidden "
                  f"{hidden}, Adam {LR:g}, {steps} steps of 64 fresh sequences, clipping at 1; "
                  f"gradient ratio ‖∂L/∂h_0‖ / ‖∂L/∂h_T‖ at T = {probe_length}",
                  ["model", *[f"acc T={n}" for n in lengths], "ratio at init",
                   "ratio trained"], rows)

    # The exploding case: the same ReLU RNN, SGD with and without clipping.
    edge = {}
    for clipped in (False, True):
        cr.manual_seed(seed)
        model = _edge_relu_rnn(hidden)
        optimizer = optim.SGD(model.parameters(), lr=0.05)
        with np.errstate(over="ignore", invalid="ignore"):
            losses, norms = train(model, steps // 2, probe_length,
                                  np.random.default_rng(seed + 3), optimizer,
                                  clip=1.0 if clipped else None)
            test = first_symbol_task(1000, probe_length, np.random.default_rng(seed + 2))
            final = accuracy(model, *test) if math.isfinite(losses[-1]) else math.nan
        edge["clipped" if clipped else "not clipped"] = (losses, norms, final)
    edge_rows = [[name, max(n for n in norms if math.isfinite(n)) if any(
        math.isfinite(n) for n in norms) else math.nan, len(losses), losses[-1], final]
        for name, (losses, norms, final) in edge.items()]
    edge_table = Table(f"ReLU RNN with W_hh = 1.1·I, T = {probe_length}, SGD lr 0.05, "
                       f"{steps // 2} steps", ["clipping", "max gradient norm", "steps run",
                                               "last loss", "test accuracy"], edge_rows)

    steps_axis = np.arange(probe_length)
    figures = [plots.plot_curves(out / "state_gradients.png", [
        dict(series={k: (steps_axis, v[0]) for k, v in grads.items()}, logy=True,
             title="‖∂L/∂h_t‖ at initialization", xlabel="time step t",
             ylabel="gradient norm (log scale)"),
        dict(series={k: (steps_axis, v[1]) for k, v in grads.items()}, logy=True,
             title="‖∂L/∂h_t‖ after training", xlabel="time step t",
             ylabel="gradient norm (log scale)"),
        dict(series={k: (np.array(lengths), [accuracies[k][n] for n in lengths])
                     for k in KINDS}, title="Test accuracy against sequence length",
             xlabel="sequence length T", ylabel="test accuracy", ylim=(0, 1.05)),
    ], ncols=3, size=(14.0, 4.0)),
        plots.plot_curves(out / "clipping.png", [
            dict(series={k: v[1] for k, v in edge.items()}, logy=True, xlabel="step",
                 title="Gradient norm before clipping", ylabel="norm (log scale)"),
            dict(series={k: v[0] for k, v in edge.items()}, logy=True, xlabel="step",
                 title="Training loss", ylabel="cross-entropy (log scale)"),
        ], ncols=2, size=(10.0, 4.0))]

    longest = lengths[-1]
    numbers = {f"acc_{KINDS[k].lower()}_T{n}": accuracies[k][n] for k in KINDS for n in lengths}
    numbers.update({f"ratio_init_{KINDS[k].lower()}": float(grads[k][0][0] / grads[k][0][-1])
                    for k in KINDS})
    numbers.update({f"ratio_trained_{KINDS[k].lower()}": float(grads[k][1][0] / grads[k][1][-1])
                    for k in KINDS})
    numbers.update(edge_max_norm=edge_rows[0][1], edge_max_norm_clipped=edge_rows[1][1],
                   edge_steps=edge_rows[0][2], edge_steps_clipped=edge_rows[1][2],
                   edge_acc_clipped=edge_rows[1][4])
    best = max(KINDS, key=lambda k: accuracies[k][longest])
    paragraph = (
        f"At initialization the gradient reaching the first step of a {probe_length}-step "
        f"sequence is {rows[0][-2]:.1e} of the gradient at the last step for the tanh RNN, "
        f"{rows[1][-2]:.1e} for the ReLU RNN, {rows[2][-2]:.1e} for the GRU and "
        f"{rows[3][-2]:.1e} for the LSTM: the chain rule multiplies one Jacobian per step. "
        f"After training the ratios are {rows[0][-1]:.1e}, {rows[1][-1]:.1e}, "
        f"{rows[2][-1]:.1e} and {rows[3][-1]:.1e}. Test accuracy at T = "
        + "/".join(str(n) for n in lengths) + ": "
        + ", ".join(k + " " + "/".join(f"{accuracies[k][n]:.2f}" for n in lengths)
                    for k in KINDS)
        + f" (chance {1 / SYMBOLS:.2f}); "
        + (f"the best at T = {longest} is the {best}. "
           if accuracies[best][longest] > 1 / SYMBOLS + 0.1 else
           f"in {steps} steps no model learns T = {longest} above chance. ")
        + f"The ReLU RNN started with W_hh = 1.1·I reaches a gradient norm of "
        f"{edge_rows[0][1]:.2g} without clipping"
        + (f" and stops on a non-finite loss after {edge_rows[0][2]} steps"
           if edge_rows[0][2] < steps // 2 else f" (last loss {edge_rows[0][3]:.3g})")
        + f"; with its gradient clipped to norm 1 it runs all {edge_rows[1][2]} steps "
        f"(last loss {edge_rows[1][3]:.3g}, test accuracy {edge_rows[1][4]:.2f})."
    )
    return Result("recurrent", TITLE, paragraph, [table, edge_table], figures, numbers)
