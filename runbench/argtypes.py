"""argparse value types shared by run_bench.py's subcommands (cli.py, stress.py)."""
import argparse


def comma_list(text):
    items = [part.strip() for part in text.split(",") if part.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def thread_list(text):
    try:
        counts = sorted({int(part) for part in comma_list(text)})
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a comma-separated list of thread counts, e.g. 1,2")
    if any(c < 1 or c > 256 for c in counts):
        raise argparse.ArgumentTypeError(f"'{text}': thread counts must be between 1 and 256")
    return counts


def _number(text, kind):
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not {'a whole number' if kind is int else 'a number'}")


def positive_int(text):
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be at least 1")
    return value


def positive_float(text):
    value = _number(text, float)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be above 0")
    return value


def fraction(text):
    value = _number(text, float)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"'{text}' must be between 0 and 1 (0.25 = 25 %)")
    return value
