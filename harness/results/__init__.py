"""Results, computed and not yet rendered: a study directory or results file as tables
(``load``), the comparison the user asked for (``comparison``: load + resolve + compare, shared
by ``harness compare`` and ``harness report``), the end-of-study summary as data
(``summary_data``), which offline wandb runs wait for ``wandb sync`` (``wandb_sync``), a
factorial study's effects (``factorial``), differences over training (``over_steps``), and
``harness export``'s table as a file (``export``).

``harness.report`` renders what this room computes; nothing here prints a table or draws a
figure. Importing this package imports nothing heavy: polars and analysis are imported by the
functions that need them.
"""
