"""Seed-aware hyperparameter search through Optuna, the honest winner, and muTransfer.

- ``config``: the ``[search]`` table (imports no optuna; registered with ``harness.study.spec``).
- ``search``: the trial loop — trials are ordinary runs, the seed-mean curve feeds the pruner,
  several processes cooperate on one storage, dead processes' trials are retried.
- ``winner``: the top trials re-evaluated on fresh seeds and compared by ``analysis``.
- ``transfer``: a study file applying the search's choice at a target size.
- ``report``: the summary, importances and plots.

See docs/tuning.md.
"""
