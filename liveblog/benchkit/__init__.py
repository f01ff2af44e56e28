"""What ``liveblog bench`` runs besides liveblog-stream itself: the seeded corpus generator
(:mod:`liveblog.benchkit.corpus`) and the naive one-job-per-post baseline
(:mod:`liveblog.benchkit.naive`). Installed with the package, so the benchmark runs from a
wheel as well as from a checkout."""
