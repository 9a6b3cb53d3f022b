"""``python -m qiskit_divi.emulator``: same options as ``qiskit-divi emulator``."""

import sys

from .cli import main

sys.exit(main())
