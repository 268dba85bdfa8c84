"""What runs inside a worker process: one planned run, start to record.

The worker (:mod:`harness.worker.execute`) reads a run's planned config, takes over its claim,
trains (built-in) or launches the external command (:mod:`harness.worker.command`), reads the
command's metrics (:mod:`harness.worker.metric_sources`, :mod:`harness.worker.wandb_source`),
logs to wandb (:mod:`harness.worker.wandb_sink`), notes the code it ran
(:mod:`harness.worker.provenance`) and writes the run's record. The warm zygote
(:mod:`harness.worker.zygote`) forks such workers. Executors start either through
:mod:`harness.worker.launch`; nothing here knows of executors or of the study driver.
"""

from harness.own_packages import keep_own_packages_first

# A worker starts with the study's directory first on sys.path (python -m / -c): a researcher's
# own models/ or kernels/ folder there must not replace the built-in model's packages.
keep_own_packages_first()
