"""The overfitting lab (chainrule/lab/overfitting.py) at smoke size: a small training set overfits;
augmentation and dropout close the gap."""


def test_outputs_exist(check_outputs):
    check_outputs("overfitting")


def test_overfitting_gap_and_augmentation(results):
    numbers = results("overfitting").numbers
    assert numbers["gap_none"] > 0.2
    assert numbers["gap_augmentation"] < numbers["gap_none"]
    assert numbers["gap_dropout"] < numbers["gap_none"]
