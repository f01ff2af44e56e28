"""Run the benchmark: ``python bench/run.py [--json] [--posts N] [--quick]``.

A thin script: the harness is ``liveblog.benchmark`` (shared with ``liveblog bench``), its
corpus and naive baseline ``liveblog.benchkit``. It starts a private redis-server on a free
port unless ``REDIS_URL`` is set (that database is flushed, so one holding keys is refused
without ``--flush``). See docs/performance.md.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from liveblog.benchmark import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
