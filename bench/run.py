"""Run the benchmark: ``python bench/run.py [--json] [--posts N] [--quick]``.

A thin script: the harness is ``liveblog.benchmark`` (shared with ``liveblog bench``),
which imports ``bench/corpus.py`` and ``bench/naive.py`` from this directory by path.
It starts a private redis-server on a free port unless ``REDIS_URL`` is set (that
database is flushed). See docs/performance.md.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from liveblog.benchmark import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
