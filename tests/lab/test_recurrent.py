"""The recurrent lab (chainrule/lab/recurrent.py) at smoke size: the gradient through a tanh RNN
vanishes over the sequence at initialization, every model learns the short sequences, and
clipping keeps the ReLU RNN at the edge from blowing up; the state gradients it plots are the
closed form at the last step."""

import numpy as np

import chainrule as cr
from chainrule.lab import recurrent


def test_outputs_exist(check_outputs):
    check_outputs("recurrent")


def test_gradients_vanish_through_time_and_short_sequences_are_learned(results):
    numbers = results("recurrent").numbers
    assert numbers["ratio_init_rnn_tanh"] < 1e-3
    assert all(numbers[f"acc_{kind}_T5"] > 0.9 for kind in ("rnn_tanh", "rnn_relu", "gru",
                                                            "lstm"))


def test_clipping_tames_the_exploding_relu_rnn(results):
    numbers = results("recurrent").numbers
    assert numbers["edge_max_norm"] > 100 * numbers["edge_max_norm_clipped"]
    assert numbers["edge_acc_clipped"] > 0.35  # chance is 0.25


def test_state_gradient_at_the_last_step_is_the_closed_form():
    cr.manual_seed(0)
    model = recurrent.Classifier("GRU", 5)
    x, y = recurrent.first_symbol_task(7, 6, np.random.default_rng(0))
    norms = recurrent.state_gradients(model, x, y)
    with cr.no_grad():
        out, _ = model.rnn(cr.tensor(x))
        logits = model.head(out[:, -1]).data.astype(np.float64)
    probabilities = np.exp(logits - logits.max(1, keepdims=True))
    probabilities /= probabilities.sum(1, keepdims=True)
    probabilities[np.arange(7), y] -= 1.0  # d(sum of cross-entropies)/d logits
    expected = np.linalg.norm(probabilities @ model.head.weight.data, axis=1).mean()
    assert norms.shape == (6,)
    np.testing.assert_allclose(norms[-1], expected, rtol=1e-5)
