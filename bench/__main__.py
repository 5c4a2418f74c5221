"""``python -m bench``: the same as ``bench/run``."""

from bench.cgh_bench import main

raise SystemExit(main())
