"""Small, dependency-free statistics for noisy benchmark samples."""
import math
import random


def median(values):
    ordered = sorted(values)
    if not ordered:
        raise ValueError("median of an empty sample")
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def paired_ratios(mine, theirs):
    """mine[k] ÷ theirs[k] for every key both measured, in key order. The keys are rounds or
    repetitions, in which the allocators ran back to back: the machine's swings between them
    (2-4x on a shared 2-core VM) cancel in each ratio instead of landing on one allocator."""
    return [mine[k] / theirs[k] for k in sorted(mine, key=str) if theirs.get(k)]


def paired_median(mine, theirs):
    """The median of paired_ratios(mine, theirs), or None without a key both measured."""
    ratios = paired_ratios(mine, theirs)
    return median(ratios) if ratios else None


def geometric_mean(values):
    values = [v for v in values if v > 0]
    if not values:
        return float("nan")
    return math.exp(sum(math.log(v) for v in values) / len(values))


def quantile(ordered, q):
    """Linear-interpolation quantile of an already sorted list."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def bootstrap_ratio_interval(current, baseline, confidence=0.95, resamples=2000, seed=1):
    """Confidence interval of median(current) / median(baseline), percentile bootstrap.

    Both samples are resampled independently; a fixed seed keeps the gate's verdict
    reproducible for the same measurements.
    """
    if not current or not baseline:
        raise ValueError("bootstrap needs two non-empty samples")
    rng = random.Random(seed)
    ratios = []
    for _ in range(resamples):
        cur = median(rng.choices(current, k=len(current)))
        base = median(rng.choices(baseline, k=len(baseline)))
        ratios.append(cur / base if base else math.inf)
    ratios.sort()
    tail = (1 - confidence) / 2
    return quantile(ratios, tail), quantile(ratios, 1 - tail)
