"""chainrule's tests mirror the package file by file.

``chainrule/X/Y.py`` is tested in ``tests/X/test_Y.py`` (a private ``_Y.py`` in ``test_Y.py``, a
package's ``__init__.py`` in ``tests/X/test_X.py``); a test of a whole program goes with the
module whose API it calls. Every op module has a file of op specs checked by the harness in
``tests/ops/spec.py``. Shared helpers are conftest fixtures, or small modules imported as
``tests.<folder>.<module>`` (pytest runs in importlib mode with the repository root on the path).
"""
