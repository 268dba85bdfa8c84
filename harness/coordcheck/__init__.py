"""The muP coordinate check behind ``harness coordcheck``.

``measure`` (torch) trains the built-in GPT for a few steps at several widths and records the
mean absolute value of every tapped activation, per layer and per step; ``user_model`` does the
same for the researcher's own model (``--model``), hooking every module; ``sequential`` adds
seeds while ``analysis.coordcheck`` (no torch) cannot yet decide between PASS and FAIL;
``output`` writes the table, the JSON, the CSV and the plots; ``planted`` holds deliberately
broken muP variants for the tests and the benchmark. Importing this package does not import
torch.
"""

from __future__ import annotations

from harness.coordcheck.settings import ACTIVATIONS, CoordCheckSettings, width_config

__all__ = ["ACTIVATIONS", "CoordCheckSettings", "width_config"]
