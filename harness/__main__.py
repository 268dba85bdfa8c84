from harness.cli import main

# guarded: a process that `harness import-runs` starts to read runs imports this module again
if __name__ == "__main__":
    raise SystemExit(main())
