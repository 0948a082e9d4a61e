"""Metrics against NumPy brute force and scikit-learn."""

import numpy as np
import pytest

from chainrule.train import metrics


@pytest.fixture
def scores():
    rng = np.random.default_rng(0)
    return rng.normal(size=(200, 7)).astype(np.float32), rng.integers(0, 7, 200)


def test_accuracy_counts_argmax_hits(scores):
    outputs, labels = scores
    expected = np.mean([np.argmax(row) == label for row, label in zip(outputs, labels)])
    assert metrics.accuracy(outputs, labels) == pytest.approx(expected)


def test_accuracy_scores_soft_targets_by_their_most_likely_class(scores):
    outputs, labels = scores
    soft = np.full((200, 7), 0.05, np.float32)
    soft[np.arange(200), labels] = 0.7
    assert metrics.accuracy(outputs, soft) == metrics.accuracy(outputs, labels)


@pytest.mark.parametrize("k", [1, 2, 3, 7])
def test_top_k_matches_sorting(scores, k):
    outputs, labels = scores
    top = np.argsort(-outputs, axis=1)[:, :k]
    expected = np.mean([label in row for row, label in zip(top, labels)])
    assert metrics.top_k_accuracy(outputs, labels, k=k) == pytest.approx(expected)
    assert metrics.get_metric(f"top{k}_accuracy")(outputs, labels) == pytest.approx(expected)


def test_top_k_matches_sklearn(scores):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    outputs, labels = scores
    expected = sklearn_metrics.top_k_accuracy_score(labels, outputs, k=3, labels=range(7))
    assert metrics.top_k_accuracy(outputs, labels, 3) == pytest.approx(expected)


def test_binary_accuracy_thresholds_logits_at_zero():
    logits = np.array([3.0, -0.5, 0.2, -2.0])
    targets = np.array([1, 1, 0, 0])
    assert metrics.binary_accuracy(logits, targets) == pytest.approx(np.mean(
        (logits > 0) == (targets > 0.5)))


def test_multilabel_accuracy_and_f1_match_sklearn():
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(50, 5))
    targets = rng.integers(0, 2, (50, 5))
    predicted = (logits > 0).astype(int)
    assert metrics.multilabel_accuracy(logits, targets) == pytest.approx(
        np.mean(predicted == targets))
    assert metrics.multilabel_accuracy(logits, targets, exact_match=True) == pytest.approx(
        sklearn_metrics.accuracy_score(targets, predicted))
    for average in ("micro", "macro"):
        assert metrics.multilabel_f1(logits, targets, average=average) == pytest.approx(
            sklearn_metrics.f1_score(targets, predicted, average=average, zero_division=0))


def test_f1_and_confusion_matrix_match_sklearn(scores):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    outputs, labels = scores
    predicted = outputs.argmax(1)
    np.testing.assert_array_equal(metrics.confusion_matrix(outputs, labels),
                                  sklearn_metrics.confusion_matrix(labels, predicted,
                                                                   labels=range(7)))
    assert metrics.f1_score(outputs, labels) == pytest.approx(
        sklearn_metrics.f1_score(labels, predicted, average="macro"))
    assert metrics.f1_score(outputs, labels, average="micro") == pytest.approx(
        metrics.accuracy(outputs, labels))


def test_confusion_matrix_from_class_indices_counts_pairs():
    matrix = metrics.confusion_matrix(np.array([0, 2, 2, 1]), np.array([0, 2, 1, 1]), 3)
    expected = np.zeros((3, 3), int)
    for true, pred in [(0, 0), (2, 2), (1, 2), (1, 1)]:
        expected[true, pred] += 1
    np.testing.assert_array_equal(matrix, expected)


def test_regression_errors_match_numpy():
    rng = np.random.default_rng(2)
    outputs, targets = rng.normal(size=(30, 1)), rng.normal(size=30)
    assert metrics.get_metric("mae")(outputs, targets) == pytest.approx(
        np.abs(outputs[:, 0] - targets).mean())
    assert metrics.get_metric("mse")(outputs, targets) == pytest.approx(
        ((outputs[:, 0] - targets) ** 2).mean())


def test_get_metric_errors_and_names():
    with pytest.raises(ValueError, match="unknown metric 'precision'.*top5_accuracy"):
        metrics.get_metric("precision")
    with pytest.raises(ValueError, match="expected class scores of shape"):
        metrics.accuracy(np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match=r"expected targets of shape \(3,\)"):
        metrics.accuracy(np.zeros((3, 2)), np.zeros(5))
    assert metrics.metric_name(metrics.mean_absolute_error) == "mae"
    assert metrics.higher_is_better("val_accuracy") and not metrics.higher_is_better("val_loss")
    assert not metrics.higher_is_better("train_mae")
