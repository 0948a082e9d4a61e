"""Principal component analysis by SVD, written out with NumPy."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np

from chainrule.data.dataset import to_numpy

__all__ = ["PCA"]


def _as_matrix(x: Any, owner: str) -> np.ndarray:
    """(N, features) float matrix from an array, Tensor or TensorDataset, flattening (N, ...)."""
    arrays = getattr(x, "arrays", None)
    if arrays is not None:  # a TensorDataset: use its inputs
        x = arrays[0]
    array = to_numpy(x)
    if array.ndim < 2:
        raise ValueError(f"PCA.{owner} expects a batch (N, features) or (N, ...), got shape "
                         f"{array.shape}; reshape one sample with x[None]")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float32)
    return array.reshape(array.shape[0], -1)


class PCA:
    """Project data onto the directions of largest variance (principal components).

    With the centred data ``X - mean_ = U S Vᵀ`` (thin SVD), ``components_`` are the first
    rows of ``Vᵀ``, ``explained_variance_ = S² / (N - 1)`` and
    ``transform(X) = (X - mean_) @ components_.T``
    (divided by ``sqrt(explained_variance_)`` when ``whiten``). Component signs follow
    scikit-learn's ``svd_flip`` rule: the largest-magnitude entry of each component is positive,
    so results match ``sklearn.decomposition.PCA``.

    Args:
        n_components: an int ``k`` keeps ``k`` components; a float in (0, 1) keeps the fewest
            components whose explained variance ratio sums to more than it; ``None`` keeps
            ``min(N, features)``.
        whiten: scale projections to unit variance.

    Shape:
        Input ``(N, ...)`` is flattened to ``(N, features)``; output ``(N, n_components_)``.
        Attributes have the input's float dtype (float32 stays float32).

    Example:
        >>> X = np.random.default_rng(0).normal(size=(100, 5)).astype(np.float32)
        >>> pca = PCA(2).fit(X)
        >>> pca.transform(X).shape, pca.components_.shape
        ((100, 2), (2, 5))
    """

    def __init__(self, n_components: int | float | None = None, whiten: bool = False) -> None:
        if n_components is not None:
            if isinstance(n_components, bool) or not isinstance(n_components, (Integral, Real)):
                raise TypeError(f"PCA n_components must be an int, a float in (0, 1) or None, "
                                f"got {type(n_components).__name__}: {n_components!r}")
            if isinstance(n_components, Integral) and n_components < 1:
                raise ValueError(f"PCA n_components must be >= 1, got {n_components}")
            if not isinstance(n_components, Integral) and not 0 < n_components < 1:
                raise ValueError(f"a float n_components is a fraction of variance in (0, 1), "
                                 f"got {n_components}; pass an int to keep that many components")
        self.n_components = n_components
        self.whiten = bool(whiten)

    def fit(self, x: Any) -> "PCA":
        """Learn the mean and components of ``x`` (N, ...) and return ``self``."""
        data = _as_matrix(x, "fit")
        n_samples, n_features = data.shape
        if n_samples < 2:
            raise ValueError(f"PCA.fit needs at least 2 samples, got {n_samples}")
        limit = min(n_samples, n_features)
        if isinstance(self.n_components, Integral) and self.n_components > limit:
            raise ValueError(f"PCA n_components={self.n_components} must be <= min(n_samples, "
                             f"n_features) = min({n_samples}, {n_features}) = {limit}")
        work = data.astype(np.float64)  # SVD in float64 for accuracy, results in input dtype
        mean = work.mean(axis=0)
        _, singular, vt = np.linalg.svd(work - mean, full_matrices=False)
        # svd_flip (scikit-learn): make each row's largest-magnitude entry positive
        largest = np.argmax(np.abs(vt), axis=1)
        vt *= np.sign(vt[np.arange(vt.shape[0]), largest])[:, None]
        variance = singular**2 / (n_samples - 1)
        total = variance.sum()
        ratio = variance / total if total > 0 else np.zeros_like(variance)
        if self.n_components is None:
            k = limit
        elif isinstance(self.n_components, Integral):
            k = int(self.n_components)
        else:  # side="right": the kept variance is strictly greater than the fraction asked
            k = int(np.searchsorted(np.cumsum(ratio), self.n_components, side="right")) + 1
            k = min(k, limit)
        dtype = data.dtype
        self.n_components_ = k
        self.n_features_in_ = n_features
        self.n_samples_ = n_samples
        self.mean_ = mean.astype(dtype)
        self.components_ = np.ascontiguousarray(vt[:k]).astype(dtype)
        self.explained_variance_ = variance[:k].astype(dtype)
        self.explained_variance_ratio_ = ratio[:k].astype(dtype)
        self.singular_values_ = singular[:k].astype(dtype)
        self.noise_variance_ = float(variance[k:].mean()) if k < limit else 0.0
        return self

    def _check_fitted(self, features: int, method: str) -> None:
        if not hasattr(self, "components_"):
            raise RuntimeError(f"PCA.{method} called before fit; call pca.fit(train_inputs) first")
        if features != self.n_features_in_:
            raise ValueError(f"PCA was fitted on {self.n_features_in_} features but {method} got "
                             f"{features}; pass inputs of the same shape as in fit")

    def _scale(self) -> np.ndarray:
        scale = np.sqrt(self.explained_variance_)
        return np.maximum(scale, np.finfo(scale.dtype).eps)

    def transform(self, x: Any) -> np.ndarray:
        """Project ``x`` (N, ...) onto the components: ``(N, n_components_)``."""
        data = _as_matrix(x, "transform")
        self._check_fitted(data.shape[1], "transform")
        components = self.components_.astype(data.dtype, copy=False)
        out = data @ components.T - self.mean_.astype(data.dtype, copy=False) @ components.T
        if self.whiten:
            out /= self._scale().astype(data.dtype, copy=False)
        return out

    def fit_transform(self, x: Any) -> np.ndarray:
        """``fit(x)`` then ``transform(x)``."""
        return self.fit(x).transform(x)

    def inverse_transform(self, z: Any) -> np.ndarray:
        """Map projections ``z`` (N, n_components_) back to the flat input space (N, features)."""
        codes = to_numpy(z)
        if not hasattr(self, "components_"):
            raise RuntimeError("PCA.inverse_transform called before fit")
        if codes.ndim != 2 or codes.shape[1] != self.n_components_:
            raise ValueError(f"PCA.inverse_transform expects (N, {self.n_components_}), got "
                             f"shape {codes.shape}")
        components = self.components_
        if self.whiten:
            components = np.sqrt(self.explained_variance_)[:, None] * components
        return codes @ components.astype(codes.dtype, copy=False) + self.mean_

    def __call__(self, x: Any) -> np.ndarray:
        """Use a fitted PCA as a DataLoader transform: same as ``transform``."""
        return self.transform(x)

    def __repr__(self) -> str:
        fitted = f", n_components_={self.n_components_}" if hasattr(self, "n_components_") else ""
        return f"PCA(n_components={self.n_components!r}, whiten={self.whiten}{fitted})"
