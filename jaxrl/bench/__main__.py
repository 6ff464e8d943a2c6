"""``python -m jaxrl.bench``: the same as ``jaxrl bench``."""

import sys

from jaxrl.bench import main

sys.exit(main())
