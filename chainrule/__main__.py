"""``python -m chainrule``: the same as the ``chainrule`` command."""

import sys

from chainrule.cli import main

if __name__ == "__main__":
    sys.exit(main())
