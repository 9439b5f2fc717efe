"""``python -m yuma``: the same as the ``yuma`` command."""

import sys

from yuma.cli import main

sys.exit(main())
