"""Importing runs made elsewhere: wandb, TensorBoard, MLflow and CSV logs become a read-only study.

One module per log source reads runs into :class:`~harness.importers._base.SourceRun` values
(config, state, curve), :mod:`~harness.importers.grouping` groups them into variants and seeds
from their configs, and :mod:`~harness.importers.study` writes them through the store, so
``harness compare``, ``report`` and ``export`` read them like any study. The originals are only
ever read.
"""
