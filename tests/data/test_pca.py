import numpy as np
import pytest
from sklearn.decomposition import PCA as SkPCA

import chainrule as cr
from chainrule.data import PCA, DataLoader, TensorDataset


def _data(n=120, d=10, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    basis = rng.normal(size=(d, d))
    scales = np.linspace(3.0, 0.1, d)
    return ((rng.normal(size=(n, d)) * scales) @ basis + rng.normal(size=d)).astype(dtype)


@pytest.mark.parametrize("n_components", [1, 3, 10, 0.9, 0.5, None])
@pytest.mark.parametrize("whiten", [False, True])
def test_matches_sklearn(n_components, whiten):
    x = _data()
    ours = PCA(n_components, whiten=whiten).fit(x)
    ref = SkPCA(n_components, whiten=whiten, svd_solver="full").fit(x)
    assert ours.n_components_ == ref.n_components_
    np.testing.assert_allclose(ours.components_, ref.components_, atol=1e-10)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_,
                               rtol=1e-10)
    np.testing.assert_allclose(ours.mean_, ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-10)
    np.testing.assert_allclose(ours.noise_variance_, ref.noise_variance_, rtol=1e-8, atol=1e-12)
    z = ours.transform(x)
    np.testing.assert_allclose(z, ref.transform(x), atol=1e-9)
    np.testing.assert_allclose(ours.inverse_transform(z), ref.inverse_transform(z), atol=1e-9)


def test_matches_sklearn_wide_data_and_default_solver():
    x = _data(n=15, d=40, seed=2)
    ours = PCA(5).fit(x)
    ref = SkPCA(5).fit(x)
    np.testing.assert_allclose(ours.components_, ref.components_, atol=1e-8)
    np.testing.assert_allclose(ours.fit_transform(x), ref.fit_transform(x), atol=1e-8)


def test_float32_stays_float32_and_is_close_to_sklearn():
    x = _data(dtype=np.float32)
    ours = PCA(4).fit(x)
    assert ours.components_.dtype == np.float32 and ours.transform(x).dtype == np.float32
    ref = SkPCA(4, svd_solver="full").fit(x.astype(np.float64))
    np.testing.assert_allclose(ours.components_, ref.components_, atol=1e-4)


def test_signs_follow_svd_flip_rule():
    pca = PCA(5).fit(_data(seed=7))
    largest = np.argmax(np.abs(pca.components_), axis=1)
    assert (pca.components_[np.arange(5), largest] > 0).all()


def test_fraction_keeps_more_than_that_variance():
    x = _data()
    pca = PCA(0.95).fit(x)
    full = PCA().fit(x)
    cumulative = np.cumsum(full.explained_variance_ratio_)
    assert cumulative[pca.n_components_ - 1] > 0.95
    assert cumulative[pca.n_components_ - 2] <= 0.95


def test_full_rank_round_trip_and_whitening():
    x = _data()
    pca = PCA(whiten=True).fit(x)
    z = pca.transform(x)
    np.testing.assert_allclose(np.cov(z, rowvar=False), np.eye(x.shape[1]), atol=1e-8)
    np.testing.assert_allclose(pca.inverse_transform(z), x, atol=1e-8)


def test_images_are_flattened_and_tensor_and_dataset_inputs():
    images = _data(n=50, d=16, dtype=np.float32).reshape(50, 1, 4, 4)
    pca = PCA(3).fit(TensorDataset(images, np.zeros(50, np.int64)))
    flat = PCA(3).fit(images.reshape(50, 16))
    np.testing.assert_allclose(pca.components_, flat.components_, atol=1e-6)
    np.testing.assert_allclose(pca(cr.from_numpy(images)), flat.transform(images.reshape(50, 16)),
                               atol=1e-5)


def test_as_loader_transform_fitted_on_train_only():
    images = _data(n=40, d=16, dtype=np.float32).reshape(40, 1, 4, 4)
    train = TensorDataset(images[:30], np.arange(30))
    pca = PCA(2).fit(train.arrays[0])
    x, _ = next(iter(DataLoader(train, batch_size=8, transform=pca)))
    assert tuple(x.shape) == (8, 2) and x.dtype == np.float32
    np.testing.assert_allclose(x.data, pca.transform(images[:8]), rtol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="<= min"):
        PCA(20).fit(_data(n=10, d=5))
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        PCA(1.5)
    with pytest.raises(TypeError, match="n_components"):
        PCA("mle")
    with pytest.raises(RuntimeError, match="before fit"):
        PCA(2).transform(_data())
    pca = PCA(2).fit(_data())
    with pytest.raises(ValueError, match="10 features"):
        pca.transform(np.zeros((3, 4)))
