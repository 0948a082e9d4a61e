"""Metrics on NumPy arrays: accuracy, top-k accuracy, multi-label accuracy and F1, MAE, MSE, and
the confusion matrix, plus a registry so that ``fit(metrics=("accuracy", "top3_accuracy"))``
can name them.

Every metric is a plain function ``metric(outputs, targets) -> float``:

- ``outputs``: what the model returned, ``(N, C)`` scores (logits or probabilities) for
  classification, ``(N,)`` or ``(N, D)`` values for regression.
- ``targets``: class indices ``(N,)``, or class probabilities ``(N, C)`` (MixUp/CutMix soft
  targets, scored by their most likely class), or 0/1 indicators ``(N, C)`` for multi-label,
  or values for regression.

Example:
    >>> import numpy as np
    >>> scores = np.array([[2.0, 0.1], [0.3, 0.9], [1.0, 0.0]])
    >>> accuracy(scores, np.array([0, 1, 1]))
    0.6666666666666666
    >>> get_metric("top2_accuracy")(scores, np.array([0, 1, 1]))
    1.0
"""

from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np

__all__ = [
    "accuracy", "top_k_accuracy", "multilabel_accuracy", "multilabel_f1", "f1_score",
    "mean_absolute_error", "mean_squared_error", "confusion_matrix", "METRICS", "get_metric",
    "metric_name", "higher_is_better",
]

MetricFn = Callable[[np.ndarray, np.ndarray], float]


def _array(value: Any) -> np.ndarray:
    """The ndarray behind a Tensor, or ``np.asarray(value)``."""
    if isinstance(value, np.ndarray):  # (an ndarray's own .data is a memoryview)
        return value
    data = getattr(value, "data", None)
    return data if isinstance(data, np.ndarray) else np.asarray(value)


def _class_targets(targets: np.ndarray, n: int, owner: str) -> np.ndarray:
    """Class indices (N,) from indices or from soft/one-hot targets (N, C)."""
    if targets.ndim == 2 and targets.shape[1] > 1:
        targets = targets.argmax(axis=1)
    elif targets.ndim == 2:
        targets = targets[:, 0]
    if targets.ndim != 1 or len(targets) != n:
        raise ValueError(
            f"{owner}: expected targets of shape ({n},) (class indices) or ({n}, C) "
            f"(probabilities), got shape {targets.shape}"
        )
    return targets


def _scores(outputs: np.ndarray, owner: str) -> np.ndarray:
    if outputs.ndim != 2:
        raise ValueError(
            f"{owner}: expected class scores of shape (N, C), got shape {outputs.shape}; for one "
            "output per sample (binary, regression) use 'binary_accuracy', 'mae' or 'mse'"
        )
    return outputs


def accuracy(outputs: Any, targets: Any) -> float:
    """Share of samples whose highest score is the target class: ``mean(argmax(s) == y)``.

    Args:
        outputs: scores ``(N, C)``.
        targets: class indices ``(N,)`` or class probabilities ``(N, C)``.

    Example:
        >>> accuracy(np.array([[0.1, 0.9], [0.8, 0.2]]), np.array([1, 1]))
        0.5
    """
    outputs = _scores(_array(outputs), "accuracy")
    targets = _class_targets(_array(targets), len(outputs), "accuracy")
    if len(outputs) == 0:
        return float("nan")
    return float(np.count_nonzero(outputs.argmax(axis=1) == targets)) / len(outputs)


def top_k_accuracy(outputs: Any, targets: Any, k: int = 5) -> float:
    """Share of samples whose target is among the ``k`` highest scores.

    Ties at the k-th score count as hits (as scikit-learn's ``top_k_accuracy_score``).

    Example:
        >>> top_k_accuracy(np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]]), np.array([1, 0]), k=2)
        0.5
    """
    outputs = _scores(_array(outputs), f"top_{k}_accuracy")
    targets = _class_targets(_array(targets), len(outputs), f"top_{k}_accuracy")
    if k < 1:
        raise ValueError(f"top_k_accuracy needs k >= 1, got {k}")
    if len(outputs) == 0:
        return float("nan")
    target_scores = np.take_along_axis(outputs, targets[:, None].astype(np.intp), axis=1)
    higher = np.count_nonzero(outputs > target_scores, axis=1)
    return float(np.count_nonzero(higher < k)) / len(outputs)


def binary_accuracy(outputs: Any, targets: Any, threshold: float = 0.0) -> float:
    """Accuracy for one logit per sample: predicted 1 where ``output > threshold`` (logit 0 =
    probability 0.5).

    Example:
        >>> binary_accuracy(np.array([2.0, -1.0, 0.5]), np.array([1, 0, 0]))
        0.6666666666666666
    """
    outputs, targets = _array(outputs).reshape(-1), _array(targets).reshape(-1)
    if outputs.shape != targets.shape:
        raise ValueError(f"binary_accuracy: outputs {outputs.shape} and targets {targets.shape} "
                         "hold different numbers of values")
    if outputs.size == 0:
        return float("nan")
    return float(np.count_nonzero((outputs > threshold) == (targets > 0.5))) / outputs.size


def _multilabel(outputs: Any, targets: Any, threshold: float, owner: str):
    outputs, targets = _array(outputs), _array(targets)
    if outputs.shape != targets.shape or outputs.ndim != 2:
        raise ValueError(
            f"{owner}: expected outputs and 0/1 targets of the same shape (N, C), got "
            f"{outputs.shape} and {targets.shape}"
        )
    return outputs > threshold, targets > 0.5


def multilabel_accuracy(outputs: Any, targets: Any, threshold: float = 0.0,
                        exact_match: bool = False) -> float:
    """Multi-label accuracy: the share of (sample, label) pairs predicted right, a label being
    predicted where its logit exceeds ``threshold`` (0 = probability 0.5); with ``exact_match``
    the share of samples whose labels are all right.

    Example:
        >>> logits = np.array([[2.0, -1.0], [1.0, 1.0]])
        >>> multilabel_accuracy(logits, np.array([[1, 0], [1, 0]]))
        0.75
        >>> multilabel_accuracy(logits, np.array([[1, 0], [1, 0]]), exact_match=True)
        0.5
    """
    predicted, actual = _multilabel(outputs, targets, threshold, "multilabel_accuracy")
    if predicted.size == 0:
        return float("nan")
    right = predicted == actual
    if exact_match:
        return float(np.count_nonzero(right.all(axis=1))) / len(right)
    return float(np.count_nonzero(right)) / right.size


def _f1(true_pos: np.ndarray, false_pos: np.ndarray, false_neg: np.ndarray) -> np.ndarray:
    """F1 = 2·TP / (2·TP + FP + FN), defined as 0 where the denominator is 0 (scikit-learn)."""
    denominator = 2 * true_pos + false_pos + false_neg
    return np.where(denominator > 0, 2 * true_pos / np.maximum(denominator, 1), 0.0)


def multilabel_f1(outputs: Any, targets: Any, threshold: float = 0.0,
                  average: str = "micro") -> float:
    """F1 score of multi-label predictions: ``2·TP / (2·TP + FP + FN)``.

    Args:
        average: ``'micro'`` pools the counts of every label; ``'macro'`` averages per label.

    Example:
        >>> multilabel_f1(np.array([[1.0, -1.0], [1.0, 1.0]]), np.array([[1, 0], [1, 0]]))
        0.8
    """
    predicted, actual = _multilabel(outputs, targets, threshold, "multilabel_f1")
    true_pos = np.count_nonzero(predicted & actual, axis=0)
    false_pos = np.count_nonzero(predicted & ~actual, axis=0)
    false_neg = np.count_nonzero(~predicted & actual, axis=0)
    if average == "micro":
        return float(_f1(true_pos.sum(), false_pos.sum(), false_neg.sum()))
    if average == "macro":
        return float(_f1(true_pos, false_pos, false_neg).mean())
    raise ValueError(f"multilabel_f1 average must be 'micro' or 'macro', got {average!r}")


def confusion_matrix(outputs: Any, targets: Any, num_classes: int | None = None) -> np.ndarray:
    """Counts ``M[i, j]`` of samples of true class ``i`` predicted as class ``j``.

    Args:
        outputs: scores ``(N, C)`` or predicted classes ``(N,)``.
        targets: class indices ``(N,)`` or class probabilities ``(N, C)``.
        num_classes: size of the matrix (default: from the scores, or the largest label + 1).

    Shape:
        ``(num_classes, num_classes)`` int64; rows are true classes, columns predictions.

    Example:
        >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 1, 0]), num_classes=2)
        array([[1, 1],
               [0, 1]])
    """
    outputs = _array(outputs)
    predicted = outputs.argmax(axis=1) if outputs.ndim == 2 else outputs.reshape(-1)
    actual = _class_targets(_array(targets), len(predicted), "confusion_matrix")
    predicted, actual = predicted.astype(np.int64), actual.astype(np.int64)
    if num_classes is None:
        num_classes = outputs.shape[1] if outputs.ndim == 2 else 0
        if predicted.size:
            num_classes = max(num_classes, int(predicted.max()) + 1, int(actual.max()) + 1)
    if actual.size and (actual.min() < 0 or actual.max() >= num_classes):
        raise ValueError(f"confusion_matrix: labels must lie in [0, {num_classes}), got values "
                         f"from {actual.min()} to {actual.max()}")
    flat = np.bincount(actual * num_classes + predicted, minlength=num_classes * num_classes)
    return flat[: num_classes * num_classes].reshape(num_classes, num_classes)


def f1_score(outputs: Any, targets: Any, average: str = "macro") -> float:
    """F1 score of single-label classification, per class ``2·TP / (2·TP + FP + FN)``.

    Args:
        average: ``'macro'`` (mean over classes, each class counts the same) or ``'micro'``
            (pooled counts; equals accuracy for single-label data).

    Example:
        >>> f1_score(np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]), np.array([0, 1, 0]))
        0.6666666666666666
    """
    matrix = confusion_matrix(_scores(_array(outputs), "f1"), targets)
    true_pos = np.diag(matrix)
    false_pos = matrix.sum(axis=0) - true_pos
    false_neg = matrix.sum(axis=1) - true_pos
    if average == "micro":
        return float(_f1(true_pos.sum(), false_pos.sum(), false_neg.sum()))
    if average == "macro":
        return float(_f1(true_pos, false_pos, false_neg).mean())
    raise ValueError(f"f1_score average must be 'macro' or 'micro', got {average!r}")


def _regression_pair(outputs: Any, targets: Any, owner: str) -> tuple[np.ndarray, np.ndarray]:
    outputs, targets = _array(outputs), _array(targets)
    if outputs.size != targets.size:
        raise ValueError(f"{owner}: outputs {outputs.shape} and targets {targets.shape} hold "
                         "different numbers of values")
    return outputs.reshape(-1).astype(np.float64), targets.reshape(-1).astype(np.float64)


def mean_absolute_error(outputs: Any, targets: Any) -> float:
    """MAE = mean |output − target| over every value.

    Example:
        >>> mean_absolute_error(np.array([1.0, 2.0]), np.array([0.0, 4.0]))
        1.5
    """
    outputs, targets = _regression_pair(outputs, targets, "mae")
    return float(np.abs(outputs - targets).mean()) if outputs.size else float("nan")


def mean_squared_error(outputs: Any, targets: Any) -> float:
    """MSE = mean (output − target)² over every value.

    Example:
        >>> mean_squared_error(np.array([1.0, 2.0]), np.array([0.0, 4.0]))
        2.5
    """
    outputs, targets = _regression_pair(outputs, targets, "mse")
    return float(np.square(outputs - targets).mean()) if outputs.size else float("nan")


METRICS: dict[str, MetricFn] = {
    "accuracy": accuracy,
    "binary_accuracy": binary_accuracy,
    "multilabel_accuracy": multilabel_accuracy,
    "multilabel_f1": multilabel_f1,
    "f1": f1_score,
    "mae": mean_absolute_error,
    "mse": mean_squared_error,
}
"""Metrics by name; ``top{k}_accuracy`` (e.g. ``top5_accuracy``) is recognised as well."""

_LOWER_IS_BETTER = {"loss", "mae", "mse"}
_TOP_K = re.compile(r"top_?(\d+)(_accuracy)?$")


def get_metric(metric: str | Callable) -> MetricFn:
    """The metric function for a name in ``METRICS`` or ``top{k}_accuracy``; a callable is
    returned as it is.

    Example:
        >>> get_metric("mae") is mean_absolute_error
        True
    """
    if callable(metric):
        return metric
    if not isinstance(metric, str):
        raise TypeError(f"a metric is a name or a function (outputs, targets) -> float, got "
                        f"{type(metric).__name__}: {metric!r}")
    if metric in METRICS:
        return METRICS[metric]
    match = _TOP_K.match(metric)
    if match:
        k = int(match.group(1))

        def top_k(outputs, targets, _k=k):
            return top_k_accuracy(outputs, targets, k=_k)

        top_k.__name__ = f"top{k}_accuracy"
        return top_k
    raise ValueError(f"unknown metric {metric!r}; choose one of {sorted(METRICS)} or "
                     "'top{k}_accuracy' (e.g. 'top5_accuracy'), or pass a function")


def metric_name(metric: str | Callable) -> str:
    """The column name of a metric: its registry name, or the function's ``__name__``."""
    if isinstance(metric, str):
        return metric
    for name, fn in METRICS.items():
        if fn is metric:
            return name
    return getattr(metric, "__name__", type(metric).__name__)


def higher_is_better(name: str) -> bool:
    """False for losses and errors (``val_loss``, ``train_mae``), True for the rest."""
    base = name.split("_", 1)[1] if name.startswith(("train_", "val_")) else name
    return base not in _LOWER_IS_BETTER and not base.endswith("loss")
