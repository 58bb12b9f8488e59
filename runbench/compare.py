"""`compare A B`: per-workload ratios between two results (B ÷ A), after a warning for every way
the two runs differ that can move the figures by itself (options, machine, code)."""
from runbench import results, stats
from runbench.report import format_table, ratio_cell

# (label, where to read it in a results document); the touch policy is in the harness's context.
_OPTIONS = (("quick", ("options", "quick")), ("rounds", ("options", "repetitions")),
            ("repetitions per process", ("options", "repetitions_per_process")),
            ("thread counts", ("options", "threads")), ("minimum time per measurement (s)", ("options", "min_time_s")),
            ("touch policy", ("environment", "harness_context", "touch")))
_MACHINE = (("CPU", ("environment", "cpu_model")), ("cores", ("environment", "cores")),
            ("kernel", ("environment", "kernel")), ("C library", ("environment", "glibc")),
            ("compiler", ("environment", "compiler", "version")))


def _lookup(document, path):
    found = document
    for key in path:
        found = found.get(key) if isinstance(found, dict) else None
    return found


def _commit(document):
    git = _lookup(document, ("environment", "git")) or {}
    if not git.get("commit"):
        return None
    return git["commit"][:12] + (" with uncommitted changes" if git.get("dirty") else "")


def _allocator_versions(document):
    listed = _lookup(document, ("environment", "allocators")) or {}
    return {name: info.get("version") for name, info in listed.items() if isinstance(info, dict)}


def differences(before, after):
    """One line per difference between the runs that can change their figures by itself."""
    lines = []
    for group, fields in (("options", _OPTIONS), ("machine", _MACHINE)):
        for label, path in fields:
            old, new = _lookup(before, path), _lookup(after, path)
            if old != new:
                lines.append(f"warning: the runs differ in {group}: {label}: A {_text(old)}, B {_text(new)}")
    old_commit, new_commit = _commit(before), _commit(after)
    if old_commit != new_commit or old_commit is None or "uncommitted" in old_commit:
        lines.append(f"warning: the runs' harness code may differ: A at {old_commit or 'an unknown commit'}, "
                     f"B at {new_commit or 'an unknown commit'}")
    old_versions, new_versions = _allocator_versions(before), _allocator_versions(after)
    for name in sorted(set(old_versions) & set(new_versions)):
        if old_versions[name] != new_versions[name]:
            lines.append(f"warning: the runs differ in allocator versions: {name}: A {_text(old_versions[name])}, "
                         f"B {_text(new_versions[name])}")
    return lines


def _text(value):
    if value is None:
        return "(not recorded)"
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _change(new, old):
    """stats.Estimate of median(new) ÷ median(old) for two independent runs' per-round values, or
    None. Its confidence is the lower of the two medians' distribution-free coverages
    (stats.median_interval): below 6 rounds a side it falls short of 95 % and the change is a tie,
    however narrow the bootstrap interval of so few values is."""
    if not new or not old or not stats.median(old):
        return None
    low, high = stats.bootstrap_ratio_interval(new, old)
    return stats.Estimate(stats.median(new) / stats.median(old), low, high, confidence=stats.least_coverage(new, old))


def _round_values(run, metric):
    """One value per round, the median of its repetitions: rounds are separate processes, the
    independent units; a process's repetitions share its state and are no independent samples."""
    return list(results.round_medians(run, metric).values())


def _relative_ratios(document, key):
    """The per-round ratios to system malloc behind results.relative for one run."""
    workload, allocator, threads = key
    return results.paired_ratios(results.find_run(document, *key),
                                 results.find_run(document, workload, results.REFERENCE_ALLOCATOR, threads),
                                 results.judged_throughput(document, workload, threads))


def comparison_rows(before, after):
    """[workload, allocator, threads, then an Estimate (or None) per compared metric]."""
    rows = []
    for run in after["runs"]:
        key = (run["workload"], run["allocator"], run["threads"])
        old = results.find_run(before, *key)
        if old is None:
            continue
        rows.append([
            *key,
            _change(_round_values(run, "ops_per_s"), _round_values(old, "ops_per_s")),
            _change(_relative_ratios(after, key), _relative_ratios(before, key))
            if run["allocator"] != results.REFERENCE_ALLOCATOR else None,
            _change(_round_values(run, "fragmentation"), _round_values(old, "fragmentation")),
            _change(_round_values(run, "peak_rss_bytes"), _round_values(old, "peak_rss_bytes")),
        ])
    return sorted(rows, key=lambda row: row[:3])


def verdict_agreement(before, after):
    """({outcome: count}, [reversed keys]) over the (workload, allocator, threads) cases both runs
    measured against system malloc: the same separated verdict, a tie in both or in one, or reversed
    (separated in opposite directions): how far a quick run agrees with a full one."""
    counts, reversed_keys = {}, []
    for run in after["runs"]:
        key = (run["workload"], run["allocator"], run["threads"])
        if run["allocator"] == results.REFERENCE_ALLOCATOR or results.find_run(before, *key) is None:
            continue
        old, new = results.relative(before, *key), results.relative(after, *key)
        if old is None or new is None:
            continue
        ties = (old.verdict == stats.NOT_SEPARATED, new.verdict == stats.NOT_SEPARATED)
        outcome = {(True, True): "tie in both", (True, False): "tie in A only",
                   (False, True): "tie in B only"}.get(ties, "same verdict" if old.verdict == new.verdict else "reversed")
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome == "reversed":
            reversed_keys.append(key)
    return counts, sorted(reversed_keys)


def agreement_text(before, after):
    counts, reversed_keys = verdict_agreement(before, after)
    outcomes = ("same verdict", "tie in both", "tie in A only", "tie in B only", "reversed")
    text = (f"Verdicts against system malloc over {sum(counts.values())} cases: " +
            ", ".join(f"{name} {counts.get(name, 0)}" for name in outcomes))
    return text + "".join(f"\n  reversed: {w}/{a}/threads:{t}" for w, a, t in reversed_keys)


def comparison_text(before, after, before_name, after_name):
    warnings = differences(before, after)
    rows = comparison_rows(before, after)
    if not rows:
        return "\n".join([*warnings, f"{before_name} and {after_name} share no (workload, allocator, threads) runs"])
    header = ["workload", "allocator", "threads", "ops/s", "ops/s ÷ system", "fragmentation", "peak RSS"]
    cells = [[*row[:3], *(ratio_cell(v, "{:.3f}") for v in row[3:])] for row in rows]
    return "\n".join([*warnings, f"B ÷ A, medians over rounds with 95 % bootstrap intervals ('tie': the interval "
                      f"reaches within {stats.SEPARATION_MARGIN * 100:.0f} % of 1.0, or a run has fewer than 6 rounds); "
                      f"A = {before_name}, B = {after_name}. 'ops/s ÷ system' cancels the machine's speed: "
                      "prefer it when A and B ran at different times.", format_table(header, cells),
                      agreement_text(before, after)])
