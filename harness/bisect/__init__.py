"""Noise-aware ``harness bisect`` and the ``harness regress`` CI gate.

- :mod:`harness.bisect.worktrees`: detached git worktrees per commit; the user's checkout is
  never touched.
- :mod:`harness.bisect.measure`: (commit, seed) measurements of a study's command, cached in an
  ordinary study directory.
- :mod:`harness.bisect.paired`: a commit against the good endpoint, paired by seed, through
  ``analysis.compare``; good / bad / unknown.
- :mod:`harness.bisect.search`: the bisection, one such decision per step, and its error
  budget.
- :mod:`harness.bisect.regress`: the gate's decision for HEAD against a reference.

Importing this package imports neither torch nor polars.
"""
