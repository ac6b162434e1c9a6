"""``python -m idp.cli``: the ``canary`` command."""

import sys

from idp.cli import main

sys.exit(main())
