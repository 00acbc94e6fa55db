"""`python -m upcall_sync.cli`."""

import sys

from upcall_sync.cli.main import main

sys.exit(main())
