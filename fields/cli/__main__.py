"""``python -m fields.cli``: the same as the ``fields`` command."""

import sys

from fields.cli import main

sys.exit(main())
