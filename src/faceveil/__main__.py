"""``python -m faceveil``: the ``faceveil`` command (also what ``torchrun -m faceveil`` starts)."""

import sys

from .cli import main

sys.exit(main())
