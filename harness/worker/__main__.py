"""``python -m harness.worker RUN_DIR [--threads N] [--device D] [--wandb JSON]``: one run."""

from harness.worker.execute import main

if __name__ == "__main__":
    raise SystemExit(main())
