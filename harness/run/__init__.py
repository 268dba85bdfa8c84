"""Driving a study: one scheduler (claim, submit, collect, cancel), the runner, adaptive and
phased studies, the study's meta. What runs inside a worker process is :mod:`harness.worker`."""
