"""The vanishing lab (chainrule/lab/vanishing.py) at smoke size: gradients through depth: the
sigmoid network's first layer is orders below the batch-normalized one."""


def test_outputs_exist(check_outputs):
    check_outputs("vanishing")


def test_vanishing_sigmoid_first_layer_is_orders_below_batchnorm(results):
    numbers = results("vanishing").numbers
    deepest = numbers["depths"].split(", ")[-1]
    sigmoid = numbers[f"first_layer_grad_sigmoid_depth{deepest}"]
    batchnorm = numbers[f"first_layer_grad_relu_bn_depth{deepest}"]
    assert sigmoid < 1e-3 * batchnorm
    assert numbers["orders_sigmoid_below_relu_bn"] > 3
