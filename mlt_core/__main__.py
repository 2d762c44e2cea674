import sys

from mlt_core.cli import main

sys.exit(main())
