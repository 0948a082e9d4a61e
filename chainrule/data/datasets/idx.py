"""MNIST and Fashion-MNIST from the standard IDX files in a local folder (raw or .gz)."""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from chainrule.data.dataset import DataError, TensorDataset

__all__ = ["read_idx", "write_idx", "MNIST", "FashionMNIST"]

# IDX type codes -> big-endian NumPy dtypes
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _DTYPES.items()}


def _read_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as stream:
                return stream.read()
        return path.read_bytes()
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise DataError(f"{path}: not a valid gzip file ({error}); the download may be "
                        "incomplete, fetch it again") from None


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (optionally gzipped) into a NumPy array in native byte order.

    IDX layout: two zero bytes, a type code (0x08 = uint8, ...), the number of dimensions,
    one big-endian uint32 per dimension, then the data. Any mismatch (bad magic number, short
    or overlong data) raises ``DataError`` naming the file.

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "a-idx1-ubyte")
        >>> write_idx(path, np.arange(3, dtype=np.uint8)); read_idx(path)
        array([0, 1, 2], dtype=uint8)
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4:
        raise DataError(f"{path}: file has {len(raw)} bytes, too short for an IDX header "
                        "(4 bytes of magic number); the file is truncated")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DataError(f"{path}: bad IDX magic number 0x{raw[:4].hex()}; expected 0x0000 then "
                        f"a type code in {[hex(c) for c in _DTYPES]} and the number of "
                        "dimensions. Is this an IDX file (not HTML from a failed download)?")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: header declares {ndim} dimensions but the file ends after "
                        f"{len(raw)} bytes; the file is truncated")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = math.prod(shape) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        kind = "truncated" if found < expected else "longer than its header says"
        raise DataError(f"{path}: header says shape {shape} ({expected} bytes of data) but the "
                        f"file holds {found}; the file is {kind}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(
        dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzipped when ``path`` ends in ``.gz``).

    Example:
        >>> import tempfile, os
        >>> path = os.path.join(tempfile.mkdtemp(), "x-idx3-ubyte.gz")
        >>> write_idx(path, np.zeros((2, 28, 28), np.uint8)); read_idx(path).shape
        (2, 28, 28)
    """
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"write_idx supports dtypes {sorted(str(d) for d in _CODES)}, got "
                        f"{array.dtype}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + array.astype(_DTYPES[code]).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as stream:
            stream.write(payload)
    else:
        path.write_bytes(payload)


class _IDXImages(TensorDataset):
    folder = ""
    source = ""
    class_names: list[str] = []

    def __init__(self, root: str | Path, train: bool = True, flatten: bool = False) -> None:
        root = Path(root).expanduser()
        prefix = "train" if train else "t10k"
        images_path = self._find(root, f"{prefix}-images-idx3-ubyte")
        labels_path = self._find(root, f"{prefix}-labels-idx1-ubyte")
        images = read_idx(images_path)
        labels = read_idx(labels_path)
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise DataError(f"{images_path}: expected uint8 images of shape (N, 28, 28), got "
                            f"{images.dtype} {images.shape}")
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise DataError(f"{labels_path}: expected uint8 labels of shape (N,), got "
                            f"{labels.dtype} {labels.shape}")
        if len(images) != len(labels):
            raise DataError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                            f"{len(labels)} labels; one of the files is from another set")
        if labels.size and labels.max() > 9:
            raise DataError(f"{labels_path}: labels must be 0..9, found {int(labels.max())}")
        inputs = images.astype(np.float32) / 255.0
        inputs = inputs.reshape(len(inputs), -1) if flatten else inputs[:, None]
        name = f"{type(self).__name__}/{'train' if train else 'test'}"
        super().__init__(inputs, labels.astype(np.int64), num_classes=10,
                         classes=self.class_names, name=name)
        self.root = root
        self.train = train

    @classmethod
    def _find(cls, root: Path, stem: str) -> Path:
        folders = [root, root / cls.folder / "raw", root / cls.folder]
        for folder in folders:
            for name in (stem, stem + ".gz"):
                if (folder / name).is_file():
                    return folder / name
        names = ", ".join(f"{p}-{k}-idx{d}-ubyte.gz" for p in ("train", "t10k")
                          for k, d in (("images", 3), ("labels", 1)))
        missing = "" if root.is_dir() else f" (the folder {root} does not exist)"
        raise DataError(
            f"{cls.__name__}: cannot find {stem} (or {stem}.gz) in {root} or "
            f"{root / cls.folder / 'raw'}{missing}. Put the four IDX files ({names}; gzipped "
            f"or not) in one of those folders. They come from {cls.source}; chainrule does not "
            "download them."
        )


class MNIST(_IDXImages):
    """MNIST handwritten digits read from local IDX files.

    Looks for ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
    ``t10k-images-idx3-ubyte[.gz]`` and ``t10k-labels-idx1-ubyte[.gz]`` in ``root`` or in
    torchvision's layout ``root/MNIST/raw``. Get them from Yann LeCun's MNIST page
    (yann.lecun.com/exdb/mnist) or a mirror such as torchvision's.

    Args:
        root: folder holding the files. train: the 60,000-image training set, else the
            10,000-image test set. flatten: return 784-vectors.

    Shape:
        images float32 ``(N, 1, 28, 28)`` in [0, 1] (``(N, 784)`` with ``flatten``), labels
        int64 ``(N,)``.

    Example:
        >>> train = MNIST("~/data", train=True)  # doctest: +SKIP
    """

    folder = "MNIST"
    source = ("Yann LeCun's MNIST page (http://yann.lecun.com/exdb/mnist/) or the mirror "
              "torchvision uses (https://ossci-datasets.s3.amazonaws.com/mnist/)")
    class_names = [str(k) for k in range(10)]


class FashionMNIST(_IDXImages):
    """Zalando's Fashion-MNIST (10 kinds of clothing) read from local IDX files.

    Same file names, layout (``root`` or ``root/FashionMNIST/raw``) and shapes as ``MNIST``.
    Get the files from Zalando Research's fashion-mnist GitHub page.

    Example:
        >>> test = FashionMNIST("~/data", train=False)  # doctest: +SKIP
    """

    folder = "FashionMNIST"
    source = ("Zalando Research's fashion-mnist GitHub page "
              "(https://github.com/zalando/fashion-mnist)")
    class_names = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot"]
