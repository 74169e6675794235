"""``python -m agc`` runs the command line."""

import sys

from agc.cli import main

sys.exit(main())
