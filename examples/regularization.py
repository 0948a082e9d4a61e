"""Weight decay (L2) and an L1 penalty against overfitting, side by side.

A linear model sees 32 noisy examples with 30 features, of which only 5 matter. Unregularized,
it fits the noise with all 30 weights. Weight decay (the optimizer's ``weight_decay``, an L2
penalty) shrinks every weight a little; an L1 penalty added to the loss pushes the useless ones
to (almost) exactly zero. Run: python examples/regularization.py
"""

import numpy as np

import chainrule as cr
from chainrule import nn, optim

cr.manual_seed(0)
rng = np.random.default_rng(0)
n_features, informative = 30, 5
true_weight = np.zeros(n_features, dtype=np.float32)
true_weight[:informative] = [2.0, -3.0, 1.5, 1.0, -2.0]


def make_data(n):
    x = rng.standard_normal((n, n_features)).astype(np.float32)
    y = x @ true_weight + 0.5 * rng.standard_normal(n).astype(np.float32)
    return cr.tensor(x), cr.tensor(y.reshape(-1, 1))


x_train, y_train = make_data(32)
x_test, y_test = make_data(1000)


def train(weight_decay=0.0, l1=0.0, steps=1500):
    model = nn.Linear(n_features, 1)
    loss_fn = nn.MSELoss()
    optimizer = optim.SGD(model.parameters(), lr=0.02, weight_decay=weight_decay)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn(model(x_train), y_train)
        if l1 > 0:  # L1 regularization: part of the loss, so part of its gradient
            loss = loss + nn.utils.l1_penalty(model, l1, only_weights=True)
        loss.backward()
        optimizer.step()
    with cr.no_grad():
        train_mse = loss_fn(model(x_train), y_train).item()
        test_mse = loss_fn(model(x_test), y_test).item()
    return model.weight.data.reshape(-1), train_mse, test_mse


print(f"{'':22s} {'train MSE':>9s} {'test MSE':>9s} {'|w|_2':>6s} {'|w|_1':>6s} "
      f"{'noise |w| max':>13s} {'near 0':>6s}")
for name, options in [("no regularization", {}),
                      ("weight decay 0.05", {"weight_decay": 0.05}),
                      ("L1 penalty 0.1", {"l1": 0.1})]:
    weight, train_mse, test_mse = train(**options)
    noise = np.abs(weight[informative:])  # weights of the 25 features that do not matter
    near_zero = int((np.abs(weight) < 1e-2).sum())
    print(f"{name:22s} {train_mse:9.3f} {test_mse:9.3f} {np.linalg.norm(weight):6.2f} "
          f"{np.abs(weight).sum():6.2f} {noise.max():13.3f} {near_zero:3d}/{n_features}")

print("true weights:", true_weight[:informative].tolist(), "+ 25 zeros")
print("Weight decay shrinks every weight and lowers the test error; L1 sets most useless weights "
      "to about zero (sparsity) and, as the truth here is sparse, lowers it much more.")
