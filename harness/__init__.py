"""harness: a statistical ablation harness for transformer research."""

__version__ = "0.1.0"
