"""Second-order and quasi-Newton optimizers take a closure that re-evaluates the loss, as
PyTorch's L-BFGS does: here L-BFGS and Newton's method minimize the Rosenbrock function.

Run: python examples/closure_optimizer.py
"""

import chainrule as cr
from chainrule import optim


def rosenbrock(p):
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


for name, make in [("L-BFGS", lambda ps: optim.LBFGS(ps, lr=1.0, line_search_fn="strong_wolfe")),
                   ("Newton", lambda ps: optim.Newton(ps))]:
    point = cr.tensor([-1.5, 2.0], dtype=cr.float64, requires_grad=True)
    optimizer = make([point])

    def closure():
        optimizer.zero_grad()
        loss = rosenbrock(point)
        loss.backward()
        return loss

    for step in range(1, 101):
        optimizer.step(closure)  # one L-BFGS step runs up to max_iter=20 iterations
        if float(rosenbrock(point)) < 1e-8:
            break
    print(f"{name}: {step} step(s), x = {point.detach().numpy().round(4)}, "
          f"loss = {float(rosenbrock(point)):.1e}")
