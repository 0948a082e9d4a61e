"""A Module, a DataLoader and the training loop written out, as in PyTorch.

The loop is the five lines every framework shares: forward, loss, zero_grad, backward, step.
(``chainrule.train.fit`` runs the same loop with progress, metrics and checkpoints.)

Run: python examples/train_loop.py
"""

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset

cr.manual_seed(0)
rng = np.random.default_rng(0)

# Two interleaved spirals: a task a linear model cannot solve.
n = 400
angle = rng.uniform(0, 3 * np.pi, n)
label = rng.integers(0, 2, n)
radius = angle / (3 * np.pi)
turn = angle + np.pi * label
points = np.stack([radius * np.cos(turn), radius * np.sin(turn)], 1)
points += rng.normal(scale=0.02, size=points.shape)
train = TensorDataset(points[:300].astype(np.float32), label[:300])
test_x, test_y = cr.tensor(points[300:].astype(np.float32)), label[300:]


class MLP(nn.Module):
    def __init__(self, hidden: int = 64):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden),
                                    nn.Tanh(), nn.Linear(hidden, 2))

    def forward(self, x):
        return self.layers(x)


model = MLP()
optimizer = optim.Adam(model.parameters(), lr=0.01)
loader = DataLoader(train, batch_size=32, shuffle=True, seed=0)

for epoch in range(60):
    model.train()
    for inputs, targets in loader:
        loss = F.cross_entropy(model(inputs), targets)  # forward and loss
        optimizer.zero_grad()
        loss.backward()                                 # reverse-mode differentiation
        optimizer.step()                                # parameter update

model.eval()
with cr.no_grad():
    accuracy = float((model(test_x).argmax(1).numpy() == test_y).mean())
print(f"final training loss {loss.item():.3f}, test accuracy {accuracy:.1%}")
