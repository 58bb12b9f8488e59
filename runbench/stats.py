"""Small, dependency-free statistics for noisy benchmark samples."""
import math
import random
from dataclasses import dataclass


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


SEPARATED_LOWER, SEPARATED_HIGHER, NOT_SEPARATED = "lower", "higher", "not separated"


@dataclass(frozen=True)
class Estimate:
    """A ratio with its confidence interval; draws are its bootstrap replicates (resample b of
    every estimate used the same round choices, so estimates can be combined draw by draw)."""
    value: float
    low: float
    high: float
    draws: tuple = ()

    @property
    def verdict(self):
        """Whether the interval lies wholly above or below 1.0; otherwise the case is a tie."""
        if self.low > 1.0:
            return SEPARATED_HIGHER
        if self.high < 1.0:
            return SEPARATED_LOWER
        return NOT_SEPARATED

    def inverse(self):
        return Estimate(1 / self.value, 1 / self.high, 1 / self.low, tuple(1 / d for d in self.draws))


def _percentile_interval(draws, confidence):
    ordered = sorted(draws)
    tail = (1 - confidence) / 2
    return quantile(ordered, tail), quantile(ordered, 1 - tail)


def bootstrap_rounds(rounds, statistic, confidence=0.95, resamples=500, seed=1):
    """Estimate of statistic(rounds) with a two-level percentile bootstrap interval.

    rounds: one tuple per round of lists (one list per series, e.g. per allocator) holding that
    round's repetitions. Each replicate draws rounds with replacement (a round's processes share
    the machine's state, so rounds are the independent units), then each chosen round's
    repetitions with replacement. With few rounds the interval is about their full range.
    """
    if not rounds:
        raise ValueError("bootstrap needs at least one round")
    rng = random.Random(seed)
    draws = []
    for _ in range(resamples):
        chosen = rng.choices(rounds, k=len(rounds))
        draws.append(statistic([tuple(rng.choices(series, k=len(series)) if len(series) > 1 else series
                                      for series in one) for one in chosen]))
    low, high = _percentile_interval(draws, confidence)
    return Estimate(statistic(rounds), low, high, tuple(draws))


def geometric_mean_estimate(estimates, confidence=0.95):
    """The geometric mean of estimates, its interval from their draws combined draw by draw."""
    value = geometric_mean([e.value for e in estimates])
    columns = [e.draws for e in estimates if e.draws]
    if len(columns) != len(estimates) or len({len(c) for c in columns}) != 1:
        return Estimate(value, value, value)
    draws = tuple(geometric_mean(list(replicate)) for replicate in zip(*columns))
    low, high = _percentile_interval(draws, confidence)
    return Estimate(value, low, high, draws)


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
    return _percentile_interval(ratios, confidence)
