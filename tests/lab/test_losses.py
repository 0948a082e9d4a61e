"""The losses lab (chainrule/lab/losses.py) at smoke size: cross-entropy learns faster than MSE on
sigmoid/softmax outputs."""


def test_outputs_exist(check_outputs):
    check_outputs("losses")


def test_losses_cross_entropy_learns_faster(results):
    numbers = results("losses").numbers
    assert numbers["train_acc_softmax_cross_entropy"] > numbers["train_acc_softmax_mse"] + 0.05
    assert numbers["train_acc_sigmoid_bce"] > numbers["train_acc_sigmoid_mse"] + 0.05
    assert numbers["ce_over_mse_logit_grad_error_large"] > 1
