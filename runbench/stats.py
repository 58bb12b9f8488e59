"""Small, dependency-free statistics for noisy benchmark samples."""
import itertools
import math
import random
from dataclasses import dataclass

CONFIDENCE = 0.95
# The smallest effect a verdict ever names: an interval that reaches within this of 1.0 is not
# separated (peak RSS of one library under two names differs by up to 0.6 %). A run whose
# rounds scatter more raises it to the reference allocator's own gap between rounds (round_gap).
SEPARATION_MARGIN = 0.05


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
# What "tie" means, for the tables' and charts' notes.
TIE_RULE = ("the 95 % interval reaches within the margin of 1.0: the median gap between two rounds of "
            f"system malloc, at least {SEPARATION_MARGIN * 100:.0f} %; or fewer than 6 rounds gave no 95 % interval")


def round_gap(values):
    """The median factor between two rounds of one allocator, |log(a / b)| over every pair of
    rounds, as a fraction (0.3: two rounds typically land 1.3x apart): a sample of how far two
    identical processes land apart on this machine now (conservative: it adds the drift between
    rounds, which a ratio within one round cancels). Two rounds' ratio within one round falls
    outside this gap about half the time, so a null case clears it in all of 6 rounds about 1 time
    in 2000."""
    gaps = [abs(math.log(a / b)) for a, b in itertools.combinations(values, 2) if a > 0 and b > 0]
    return math.exp(median(gaps)) - 1 if gaps else 0.0


@dataclass(frozen=True)
class Estimate:
    """A ratio with its confidence interval; draws are its bootstrap replicates (resample b of
    every estimate used the same round choices, so estimates can be combined draw by draw);
    confidence is the interval's coverage, below CONFIDENCE when there were too few rounds."""
    value: float
    low: float
    high: float
    draws: tuple = ()
    confidence: float = CONFIDENCE
    margin: float = SEPARATION_MARGIN

    @property
    def verdict(self):
        """Separated when the interval reaches CONFIDENCE and lies wholly beyond 1.0 by more than
        the margin (1 + margin or 1 / (1 + margin)); otherwise the case is a tie."""
        if self.confidence < CONFIDENCE:
            return NOT_SEPARATED
        if self.low > 1.0 + self.margin:
            return SEPARATED_HIGHER
        if self.high < 1.0 / (1.0 + self.margin):
            return SEPARATED_LOWER
        return NOT_SEPARATED

    def inverse(self):
        return Estimate(1 / self.value, 1 / self.high, 1 / self.low, tuple(1 / d for d in self.draws),
                        self.confidence, self.margin)


def _percentile_interval(draws, confidence):
    ordered = sorted(draws)
    tail = (1 - confidence) / 2
    return quantile(ordered, tail), quantile(ordered, 1 - tail)


def median_interval(values, confidence=CONFIDENCE):
    """(low, high, coverage): the distribution-free interval of a median, the order statistics
    x(k) and x(n+1-k) with the largest k whose coverage, 1 - 2 P(Binomial(n, 1/2) < k), is at
    least `confidence`. It assumes only that the values are independent: 6 values give
    (min, max) at 96.9 %, 9 give (2nd, 8th) at 96.1 %. With fewer than 6 no pair reaches 95 %,
    and (min, max) comes back with its lower coverage (3 values: 75 %)."""
    ordered = sorted(values)
    count = len(ordered)
    if not count:
        raise ValueError("median_interval of an empty sample")

    def coverage(k):
        return 1 - 2 * sum(math.comb(count, below) for below in range(k)) / 2 ** count

    k = 1
    while k + 1 <= (count + 1) // 2 and coverage(k + 1) >= confidence:
        k += 1
    return ordered[k - 1], ordered[count - k], coverage(k)


def least_coverage(*samples):
    """The lowest coverage that the distribution-free interval of a median (median_interval)
    reaches over the samples: below CONFIDENCE, one of them has fewer than 6 values."""
    return min(median_interval(values)[2] for values in samples)


def rounds_estimate(rounds, statistic, round_value, reference_values, confidence=CONFIDENCE):
    """Estimate of statistic(rounds), a median over rounds, with the distribution-free interval
    (median_interval) of round_value(round) over the rounds, widened to hold the estimate where
    statistic is a quotient of medians; draws come from bootstrap_rounds, for combining. Its
    margin is the round_gap of reference_values (the denominator's value in each round), at least
    SEPARATION_MARGIN."""
    booted = bootstrap_rounds(rounds, statistic, confidence)
    low, high, coverage = median_interval([round_value(one) for one in rounds], confidence)
    return Estimate(booted.value, min(low, booted.value), max(high, booted.value), booted.draws, coverage,
                    max(SEPARATION_MARGIN, round_gap(reference_values)))


def bootstrap_rounds(rounds, statistic, confidence=CONFIDENCE, resamples=500, seed=1):
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


def geometric_mean_estimate(estimates, confidence=CONFIDENCE):
    """The geometric mean of estimates, its interval from their draws combined draw by draw; no
    more confident than the least confident of them, its margin their margins' geometric mean."""
    value = geometric_mean([e.value for e in estimates])
    columns = [e.draws for e in estimates if e.draws]
    weakest = min(e.confidence for e in estimates)
    margin = geometric_mean([1 + e.margin for e in estimates]) - 1
    if len(columns) != len(estimates) or len({len(c) for c in columns}) != 1:
        return Estimate(value, value, value, confidence=weakest, margin=margin)
    draws = tuple(geometric_mean(list(replicate)) for replicate in zip(*columns))
    low, high = _percentile_interval(draws, confidence)
    return Estimate(value, low, high, draws, weakest, margin)


def bootstrap_ratio_interval(current, baseline, confidence=CONFIDENCE, resamples=2000, seed=1):
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
