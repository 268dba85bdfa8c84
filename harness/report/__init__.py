"""Turning results into something to read: loading a study or file as tables, the terminal
tables of ``harness compare`` and the HTML/markdown report of ``harness report``.

Importing this package imports nothing heavy; polars, rich and matplotlib are imported by the
functions that need them.
"""
