import gzip
import struct

import numpy as np
import pytest

from chainrule.data import DataError, datasets
from chainrule.data.datasets import FashionMNIST, MNIST, read_idx, write_idx


def _idx_bytes(array, type_code=0x08):
    """IDX encoding written independently of the library: header with struct, big-endian data."""
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    big_endian = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[type_code]
    return header + array.astype(big_endian).tobytes()


def _write(path, array, gz=False, type_code=0x08):
    payload = _idx_bytes(array, type_code)
    if gz:
        with gzip.open(str(path) + ".gz", "wb") as stream:
            stream.write(payload)
        return
    path.write_bytes(payload)


def _mnist_folder(folder, n_train=12, n_test=5, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        _write(folder / f"{prefix}-images-idx3-ubyte", images, gz)
        _write(folder / f"{prefix}-labels-idx1-ubyte", labels, gz)
        arrays[prefix] = (images, labels)
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_idx_files(tmp_path, gz):
    arrays = _mnist_folder(tmp_path, gz=gz)
    for train, prefix in ((True, "train"), (False, "t10k")):
        ds = MNIST(tmp_path, train=train)
        images, labels = arrays[prefix]
        assert ds.input_shape == (1, 28, 28) and ds.num_classes == 10
        assert ds.arrays[0].dtype == np.float32 and ds.arrays[1].dtype == np.int64
        np.testing.assert_allclose(ds.arrays[0][:, 0], images / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(ds.arrays[1], labels)
    assert MNIST(tmp_path, flatten=True).input_shape == (784,)


def test_torchvision_layout(tmp_path):
    arrays = _mnist_folder(tmp_path / "FashionMNIST" / "raw", n_train=3)
    ds = FashionMNIST(tmp_path)
    np.testing.assert_array_equal(ds.arrays[1], arrays["train"][1])
    assert ds.classes[9] == "Ankle boot"


def test_missing_files_name_what_to_get(tmp_path):
    with pytest.raises(DataError) as error:
        MNIST(tmp_path / "nowhere")
    message = str(error.value)
    for expected in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "MNIST/raw",
                     "LeCun", "does not exist"):
        assert expected in message
    with pytest.raises(DataError, match="zalando"):
        FashionMNIST(tmp_path)


def test_read_write_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    cases = [rng.integers(0, 256, (3, 4, 5), dtype=np.uint8), rng.normal(size=(6,)).astype(
        np.float32), rng.integers(-5, 5, (2, 2), dtype=np.int32)]
    for k, array in enumerate(cases):
        for suffix in ("", ".gz"):
            path = tmp_path / f"a{k}-idx{suffix}"
            write_idx(path, array)
            back = read_idx(path)
            assert back.dtype == array.dtype
            np.testing.assert_array_equal(back, array)
    # the independent encoder and the library agree byte for byte
    write_idx(tmp_path / "lib", cases[0])
    assert (tmp_path / "lib").read_bytes() == _idx_bytes(cases[0])


def _corrupt(tmp_path, name, payload):
    path = tmp_path / name
    path.write_bytes(payload)
    return path


def test_corrupt_files_name_the_file_and_the_problem(tmp_path):
    good = _idx_bytes(np.zeros((2, 28, 28), np.uint8))
    cases = {
        "short-header": (good[:2], "too short"),
        "bad-magic": (b"\x08\x03" + good[2:], "magic number"),
        "bad-type": (good[:2] + b"\x42" + good[3:], "magic number"),
        "cut-dims": (good[:9], "truncated"),
        "short-data": (good[:-10], "truncated"),
        "long-data": (good + b"\x00" * 3, "longer"),
    }
    for name, (payload, problem) in cases.items():
        path = _corrupt(tmp_path, name, payload)
        with pytest.raises(DataError, match=problem) as error:
            read_idx(path)
        assert str(path) in str(error.value)
    path = _corrupt(tmp_path, "broken.gz", gzip.compress(good)[:-20])
    with pytest.raises(DataError, match="gzip") as error:
        read_idx(path)
    assert str(path) in str(error.value)


def test_mnist_checks_shapes_and_counts(tmp_path):
    _mnist_folder(tmp_path, gz=False)
    labels_path = tmp_path / "train-labels-idx1-ubyte"
    _write(labels_path, np.zeros(11, np.uint8))  # one label short
    with pytest.raises(DataError, match="12 images but .* 11 labels"):
        MNIST(tmp_path)
    _write(labels_path, np.full(12, 10, np.uint8))
    with pytest.raises(DataError, match="0..9"):
        MNIST(tmp_path)
    _write(labels_path, np.zeros(12, np.uint8))
    _write(tmp_path / "train-images-idx3-ubyte", np.zeros((12, 27, 28), np.uint8))
    with pytest.raises(DataError, match=r"\(N, 28, 28\)"):
        MNIST(tmp_path)
    _write(tmp_path / "train-images-idx3-ubyte", np.zeros((12, 28, 28), np.float32), type_code=0x0D)
    with pytest.raises(DataError, match="uint8"):
        MNIST(tmp_path)
    (tmp_path / "train-images-idx3-ubyte").write_bytes(
        _idx_bytes(np.zeros((12, 28, 28), np.uint8))[:-1])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*truncated"):
        MNIST(tmp_path)


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError) and datasets.DataError is DataError
