"""The pretraining lab (chainrule/lab/pretraining.py) at smoke size: autoencoder pre-training helps
the sigmoid network."""


def test_outputs_exist(check_outputs):
    check_outputs("pretraining")


def test_pretraining_helps_the_sigmoid_network(results):
    numbers = results("pretraining").numbers
    assert numbers["finetune_gain_sigmoid_3_per_class"] > 0.05
