"""``python -m screener.train``: train the logo embedding network (see :mod:`screener.train.trainer`)."""

import sys

from .trainer import main

sys.exit(main())
