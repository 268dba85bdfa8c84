"""Running a study: one scheduler (claim, submit, collect, cancel), the runner, adaptive and
phased studies, the worker that executes one run, provenance and wandb logging."""
