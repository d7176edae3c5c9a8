"""The `jobs` command line: the local stack, API keys, and (later) jobs and events."""
