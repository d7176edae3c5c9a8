"""System jobs: the operations the platform runs itself, on Step Functions, with progress."""
