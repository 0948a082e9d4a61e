"""Bundled datasets. Each function returns ``Splits(train, test)`` of ``TensorDataset``s.

Every ``TensorDataset`` here carries ``num_classes`` (``None`` for regression), ``classes``
(names, when known) and ``input_shape`` (one sample's input shape).

==================  ==========================================  ============================
function            inputs (float32)                            targets
==================  ==========================================  ============================
``digits()``        (N, 1, 8, 8) in [0, 1], or (N, 64)          int64 (N,), 10 classes
``mnist1d()``       (N, 40) or (N, 1, 40)                       int64 (N,), 10 classes
``MNIST(root)``     (N, 1, 28, 28) in [0, 1] (one split)        int64 (N,), 10 classes
``FashionMNIST``    (N, 1, 28, 28) in [0, 1] (one split)        int64 (N,), 10 classes
``spirals()`` ...   (N, 2)  (also moons, circles, xor)          int64 (N,)
``sine()``          (N, 1)                                      float32 (N, 1)
``from_csv(path)``  (N, n_features)                             int64 (N,) or float32 (N, 1)
==================  ==========================================  ============================

``MNIST`` and ``FashionMNIST`` are datasets themselves (one split per call, as torchvision).
"""

from chainrule.data.dataset import DataError, Splits
from chainrule.data.datasets.digits import digits
from chainrule.data.datasets.idx import MNIST, FashionMNIST, read_idx, write_idx
from chainrule.data.datasets.mnist1d import cache_dir, mnist1d
from chainrule.data.datasets.synthetic import circles, moons, sine, spirals, xor
from chainrule.data.datasets.tabular import from_csv

__all__ = [
    "DataError", "Splits", "digits", "mnist1d", "cache_dir", "MNIST", "FashionMNIST",
    "read_idx", "write_idx", "spirals", "moons", "circles", "xor", "sine", "from_csv",
]
