"""`python -m rediscluster_opt` runs the `rcopt` command."""

import sys

from .cli import main

sys.exit(main())
