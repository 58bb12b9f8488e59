"""The exceptions run_bench.py turns into one clear message and its own exit status."""

USAGE_STATUS = 2
BUILD_STATUS = 3


class UsageError(Exception):
    """Bad input from the user (an option, a file, a missing tool): say what, where and why."""


class BuildError(Exception):
    """Installing the Debian packages or building with CMake failed: the input was fine, the machine
    or the code is not, so it has its own exit status (BUILD_STATUS) rather than bad usage's."""
