"""``python -m chainrule.lab NAME`` runs one lab experiment; ``python -m chainrule.lab all``
runs them all and writes ``report/index.html``."""

import sys

from chainrule.lab import main

sys.exit(main())
