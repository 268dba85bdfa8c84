"""Turning results into something to read: the terminal tables of ``harness compare``, the
HTML/markdown report of ``harness report``, listings, summaries and live progress. What is
rendered is computed in :mod:`harness.results`.

Importing this package imports nothing heavy; polars, rich and matplotlib are imported by the
functions that need them.
"""
