"""The muP coordinate check behind ``harness coordcheck``.

``measure`` (torch) trains the built-in GPT for a few steps at several widths and records the
mean absolute value of every tapped activation, per layer and per step; ``analysis.coordcheck``
(no torch) turns those records into slopes against width and a PASS / FAIL / INCONCLUSIVE
verdict; ``output`` writes the table, the CSV and the plots. Importing this package does not
import torch.
"""

from __future__ import annotations

from harness.coordcheck.settings import ACTIVATIONS, CoordCheckSettings, width_config

__all__ = ["ACTIVATIONS", "CoordCheckSettings", "width_config"]
