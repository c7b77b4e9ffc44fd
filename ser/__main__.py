"""``python -m ser``: the command line in ``ser.cli``."""

import sys

from ser.cli import main

sys.exit(main())
