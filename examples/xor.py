"""Train a tiny 2-4-1 network on XOR with chainrule's autograd: the whole idea on one page.

Run: python examples/xor.py
"""

import chainrule as cr

cr.manual_seed(0)
inputs = cr.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
targets = cr.tensor([[0.0], [1.0], [1.0], [0.0]])

# Parameters are plain tensors that require gradients.
w1 = (cr.randn(2, 4) * 1.0).requires_grad_()
b1 = cr.zeros(4, requires_grad=True)
w2 = (cr.randn(4, 1) * 1.0).requires_grad_()
b2 = cr.zeros(1, requires_grad=True)
parameters = [w1, b1, w2, b2]

learning_rate = 0.5
for step in range(2001):
    hidden = cr.tanh(inputs @ w1 + b1)  # forward propagation
    output = cr.sigmoid(hidden @ w2 + b2)
    loss = ((output - targets) ** 2).mean()  # mean squared error

    for p in parameters:  # reverse-mode differentiation
        p.grad = None
    loss.backward()

    with cr.no_grad():  # gradient descent
        for p in parameters:
            p -= learning_rate * p.grad

    if step % 500 == 0:
        print(f"step {step:4d}  loss {loss.item():.5f}")

print("predictions:", [round(v, 3) for v in output.detach().reshape(-1).tolist()])
print("targets:    ", targets.reshape(-1).tolist())
