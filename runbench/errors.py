"""The one exception type run_bench.py turns into a clear message and a non-zero exit."""


class UsageError(Exception):
    """Bad input from the user (an option, a file, a missing tool): say what, where and why."""
