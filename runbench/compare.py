"""`compare A B`: per-workload ratios between two results files (B ÷ A)."""
from runbench import results
from runbench.report import format_table


def _ratio(new, old):
    return new / old if new is not None and old else None


def comparison_rows(before, after):
    rows = []
    for run in after["runs"]:
        key = (run["workload"], run["allocator"], run["threads"])
        old = results.find_run(before, *key)
        if old is None:
            continue
        relative_new = results.relative_throughput(after, *key)
        relative_old = results.relative_throughput(before, *key)
        rows.append([
            *key,
            _ratio(results.median_metric(run, "ops_per_s"), results.median_metric(old, "ops_per_s")),
            _ratio(relative_new and relative_new[0], relative_old and relative_old[0]),
            _ratio(results.median_metric(run, "fragmentation"), results.median_metric(old, "fragmentation")),
            _ratio(results.median_metric(run, "peak_rss_bytes"), results.median_metric(old, "peak_rss_bytes")),
        ])
    return sorted(rows, key=lambda row: row[:3])


def comparison_text(before, after, before_name, after_name):
    rows = comparison_rows(before, after)
    if not rows:
        return f"{before_name} and {after_name} share no (workload, allocator, threads) runs"
    header = ["workload", "allocator", "threads", "ops/s", "ops/s ÷ system", "fragmentation", "peak RSS"]
    cells = [[*row[:3], *("—" if v is None else f"{v:.3f}" for v in row[3:])] for row in rows]
    return (f"B ÷ A, medians; A = {before_name}, B = {after_name}. 'ops/s ÷ system' cancels the machine's "
            "speed: prefer it when A and B ran at different times.\n" + format_table(header, cells))
