"""A user's own tabular data from a CSV file."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from chainrule.data.dataset import DataError, Splits
from chainrule.data.datasets._split import check_fraction, make_splits

__all__ = ["from_csv"]

_TASKS = ("auto", "classification", "regression")


def _read_rows(path: Path, delimiter: str) -> list[tuple[int, list[str]]]:
    """(line number, fields) of every non-blank row, header included."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as stream:
            reader = csv.reader(stream, delimiter=delimiter)
            return [(reader.line_num, row) for row in reader if any(f.strip() for f in row)]
    except FileNotFoundError:
        raise DataError(f"from_csv: no such file {path}") from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot read as {delimiter!r}-separated text: {error}") from None


def _number(text: str, path: Path, line: int, column: str) -> float:
    try:
        value = float(text)
    except ValueError:
        what = "an empty (missing) value" if not text.strip() else f"{text!r}"
        raise DataError(f"{path}, line {line}, column {column!r}: could not read {what} as a "
                        "number; features must be numeric (encode categories as numbers and "
                        "fill or drop missing values first)") from None
    if not math.isfinite(value):
        raise DataError(f"{path}, line {line}, column {column!r}: {text!r} is not a finite "
                        "number; fill or drop missing values first")
    return value


def _target_column(target: int | str, names: list[str], path: Path) -> int:
    if isinstance(target, str):
        if target not in names:
            raise DataError(f"{path}: no column named {target!r}; the columns are {names}")
        return names.index(target)
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
        raise TypeError(f"from_csv target must be a column name or index, got {target!r}")
    if not -len(names) <= target < len(names):
        raise DataError(f"{path}: target index {target} is out of range for {len(names)} columns")
    return int(target) % len(names)


def from_csv(path: str | Path, target: int | str = -1, task: str = "auto",
             header: bool = True, delimiter: str = ",", test_fraction: float = 0.2,
             seed: int = 0) -> Splits:
    """Load a CSV file of numeric features and one target column as train/test splits.

    Args:
        path: the CSV file. Blank lines are skipped.
        target: the target column, by header name or index (negative counts from the end).
        task: ``"classification"`` (labels int64; text labels are numbered in sorted order and
            kept in ``.classes``), ``"regression"`` (targets float32 ``(N, 1)``), or
            ``"auto"``: text or whole-number targets are classes, other numbers regression.
        header: the first row names the columns (else they are named by index).
        delimiter: field separator.
        test_fraction, seed: held-out share (stratified for classification) and its seed.

    Shape:
        inputs float32 ``(N, n_features)``; labels int64 ``(N,)`` or targets float32 ``(N, 1)``.

    Raises:
        DataError: naming the file, line number, column and value of the first bad field.

    Example:
        >>> train, test = from_csv("iris.csv", target="species")  # doctest: +SKIP
    """
    if task not in _TASKS:
        raise ValueError(f"from_csv task must be one of {_TASKS}, got {task!r}")
    check_fraction(test_fraction, "from_csv")
    path = Path(path)
    rows = _read_rows(path, delimiter)
    if not rows or (header and len(rows) < 2):
        raise DataError(f"{path}: no data rows found" + (" after the header" if rows else ""))
    width = len(rows[0][1])
    names = [n.strip() for n in rows[0][1]] if header else [str(k) for k in range(width)]
    data_rows = rows[1:] if header else rows
    column = _target_column(target, names, path)
    if width < 2:
        raise DataError(f"{path}: needs at least one feature column and the target, found "
                        f"{width} column(s); is the delimiter {delimiter!r} right?")
    features, targets = [], []
    for line, fields in data_rows:
        if len(fields) != width:
            raise DataError(f"{path}, line {line}: expected {width} fields like the first row, "
                            f"found {len(fields)}: {fields!r}")
        features.append([_number(f, path, line, names[k]) for k, f in enumerate(fields)
                         if k != column])
        targets.append((line, fields[column].strip()))
    inputs = np.asarray(features, dtype=np.float32)
    labels, num_classes, classes = _targets(targets, task, path, names[column])
    return make_splits(inputs, labels, test_fraction, seed, path.stem, num_classes, classes)


def _targets(targets: list[tuple[int, str]], task: str, path: Path, column: str):
    numbers = []
    for line, text in targets:
        try:
            numbers.append(float(text))
        except ValueError:
            if task == "regression":
                _number(text, path, line, column)  # raises with the line and value
            numbers = None
            break
    if numbers is None:  # text labels: classes in sorted order
        classes = sorted({text for _, text in targets})
        lookup = {name: k for k, name in enumerate(classes)}
        labels = np.array([lookup[text] for _, text in targets], dtype=np.int64)
        return labels, len(classes), classes
    values = np.asarray(numbers)
    with np.errstate(invalid="ignore"):
        whole = bool(np.all(np.isfinite(values)) and np.all(values == np.round(values)))
    if task == "regression" or (task == "auto" and not whole):
        for (line, text), value in zip(targets, values):
            if not math.isfinite(value):
                _number(text, path, line, column)
        return values.astype(np.float32)[:, None], None, None
    valid = np.isfinite(values) & (values == np.round(values)) & (values >= 0)
    if not valid.all():
        line, text = targets[int(np.argmin(valid))]
        raise DataError(f"{path}, line {line}, column {column!r}: class labels must be whole "
                        f"numbers >= 0 (or text), got {text!r}; use task='regression' for "
                        "real-valued targets")
    labels = values.astype(np.int64)
    return labels, int(labels.max()) + 1, None
