"""Summary tables (plain text, for the terminal) and the HTML report of a results folder."""
import html
import os

import plots
from runbench import chart_data, results, stats

MIB = 1024 * 1024


def format_table(header, rows):
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(line, widths)))
             for line in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value, pattern):
    return "—" if value is None else pattern.format(value)


def ratio_cell(estimate, pattern="{:.2f}"):
    """'2.22× (1.90–2.61)'; a ratio not separated from 1.0 (stats.Estimate.verdict) is a 'tie',
    never a winner."""
    if estimate is None:
        return "—"
    interval = f"({pattern.format(estimate.low)}–{pattern.format(estimate.high)})"
    if estimate.verdict == stats.NOT_SEPARATED:
        return f"tie {interval}"
    return f"{pattern.format(estimate.value)}× {interval}"


INTERVAL_NOTE = f"(95 % interval of the median over rounds; 'tie' = {stats.TIE_RULE})"


def mean_cell(text, counted, total):
    """A geometric mean's cell, saying over how many of the cases when not over all of them (an
    allocator whose runs failed there, a value of 0 or below, which has no logarithm)."""
    return text if counted == total or text == "—" else f"{text} over {counted} of {total}"


def standing_table(document):
    """(title, header, rows): each allocator over every case, the figures people choose by."""
    cases = {(r["workload"], r["threads"]) for r in document["runs"]}
    rows = []
    for allocator, (time, footprint, worst, counted) in results.standing(document).items():
        slowest = "—" if worst is None else f"{ratio_cell(worst[0])} on {worst[1]} (vs {worst[2]})"
        if allocator == results.REFERENCE_ALLOCATOR:
            rows.append([allocator, "1", "1", slowest])
        else:
            rows.append([allocator, *(mean_cell(ratio_cell(mean, "{:.3f}"), count, len(cases))
                                      for mean, count in zip((time, footprint), counted)), slowest])
    title = (f"Standing over all {len(cases)} cases (workload/threads): time per op and peak RSS ÷ system "
             f"malloc's in the same round ({results.judged_time_note(document)}), geometric means (lower is better), "
             "and the slowest case: its time "
             "÷ the fastest other allocator's there, i.e. the quotient of their throughput-table ratios "
             + INTERVAL_NOTE)
    return title, ["allocator", "time per op", "peak RSS", "slowest case"], rows


def summary_tables(document):
    """[(title, header, rows)]: the standing over every case, then for each thread count that ran
    throughput ×system, fragmentation and peak RSS per workload."""
    workloads = results.workloads_in(document)
    allocators = results.allocators_in(document)
    if not workloads:
        return []
    tables = [standing_table(document)]
    for threads in results.threads_in(document):
        tables.extend(_per_workload_tables(document, workloads, allocators, threads))
    return tables


def _per_workload_tables(document, workloads, allocators, threads):
    header = ["workload", *allocators]

    throughput = {(w, a): results.relative(document, w, a, threads) for w in workloads for a in allocators
                  if a != results.REFERENCE_ALLOCATOR}
    rows = [[w, *(ratio_cell(throughput[w, a]) if a != results.REFERENCE_ALLOCATOR else "1" for a in allocators),
             "CPU" if results.judged_throughput(document, w, threads) == results.CPU_THROUGHPUT else "wall"]
            for w in workloads]
    means = []
    for a in allocators:
        measured = [throughput[w, a] for w in workloads if a != results.REFERENCE_ALLOCATOR and throughput[w, a]]
        means.append(mean_cell(ratio_cell(stats.geometric_mean_estimate(measured)), len(measured), len(workloads))
                     if measured else "1" if a == results.REFERENCE_ALLOCATOR else "—")
    rows.append(["geomean", *means, ""])
    tables = [(f"Throughput ÷ system malloc's in the same round (median; higher is better; time judged: "
               f"{results.judged_time_note(document, threads)}) {INTERVAL_NOTE}, threads={threads}", [*header, "time judged"], rows)]

    def metric(name, scale=1.0):
        def value(workload, allocator):
            found = results.median_metric(results.find_run(document, workload, allocator, threads), name)
            return None if found is None else found * scale
        return value

    for title, value_of, pattern in (
            ("Fragmentation = (peak − baseline RSS) ÷ peak live bytes (median; lower is better)",
             metric("fragmentation"), "{:.2f}"),
            ("Peak RSS in MiB (median; lower is better)", metric("peak_rss_bytes", 1 / MIB), "{:.1f}")):
        grid = {(w, a): value_of(w, a) for w in workloads for a in allocators}
        if not any(value is not None for value in grid.values()):
            continue  # a metric these runs do not measure (stress programs report no fragmentation)
        rows = [[w, *(_cell(grid[w, a], pattern) for a in allocators)] for w in workloads]
        positive = {a: [grid[w, a] for w in workloads if grid[w, a] is not None and grid[w, a] > 0] for a in allocators}
        rows.append(["geomean", *(mean_cell(_cell(stats.geometric_mean(positive[a]) if positive[a] else None, pattern),
                                            len(positive[a]), len(workloads)) for a in allocators)])
        tables.append((f"{title}, threads={threads}", header, rows))
    return tables


def served_by(document):
    """[(allocator, what served its malloc)]: the library file the replay process resolved
    malloc to (allocators.verify's probe) and its package version; mem_io is linked in."""
    listed = document["environment"].get("allocators", {})
    described = []
    for name in results.allocators_in(document):
        info = listed.get(name) or {}
        served = info.get("served_by") or {}
        if info.get("harness_allocator") in ("mem_io", "bump"):
            text = "linked into mem_io_replay (built from this checkout)"
        elif served.get("malloc"):
            text = served["malloc"] + (f" ({info['package']} {info['version']})" if info.get("version") else "")
        else:
            text = info.get("preload") or "(not recorded)"
        described.append((name, text))
    return described


def summary_text(document):
    parts = [f"{title}\n{format_table(header, rows)}" for title, header, rows in summary_tables(document)]
    parts.append("malloc served by: " + "; ".join(f"{name}: {text}" for name, text in served_by(document)))
    if document.get("interrupted"):
        parts.append("The run was interrupted: these results are incomplete.")
    if document["failures"]:
        parts.append(f"{len(document['failures'])} run(s) failed:\n" +
                     "\n".join(f"  {f['workload']}/{f['allocator']}/threads:{f['threads']} round {f['round']}: "
                               f"{f['error']}" for f in document["failures"]))
    return "\n\n".join(parts)


def write_html(document, path, charts, charts_note):
    """charts: [(title, stem)] drawn into charts/; charts_note: why there are none, or None."""
    environment = document["environment"]
    git = environment.get("git") or {}
    facts = [
        ("created (UTC)", document.get("created_utc")),
        ("CPU", f"{environment.get('cpu_model')} ({environment.get('cores')} cores)"),
        ("kernel / C library", f"{environment.get('kernel')} / {environment.get('glibc')}"),
        ("compiler", (environment.get("compiler") or {}).get("version")),
        ("git commit", f"{git.get('commit')}{' (uncommitted changes)' if git.get('dirty') else ''}"),
        ("malloc served by", "; ".join(f"{name}: {text}" for name, text in served_by(document))),
        ("options", "; ".join(f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}"
                              for k, v in document.get("options", {}).items())),
    ]
    body = ["<h1>mem_io benchmark report</h1>",
            "<p>Timings on shared 2-core machines vary by ±20–50 %: compare allocators within one report, "
            "as ratios, not absolute numbers across reports. Each allocator ran in its own process, "
            "interleaved in random order, a workload's allocators back to back in each round. Throughput is "
            "each round's ratio to system malloc in the same round, so the machine's swings between rounds "
            "cancel; values are medians over rounds with their distribution-free 95 % intervals (error bars); "
            f"a tie ({stats.TIE_RULE}) is faded in the charts, not a win.</p>",
            "<table class='facts'>" + "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                                              for k, v in facts) + "</table>"]
    if document.get("interrupted"):
        body.append("<p><strong>The run was interrupted: these results are incomplete.</strong></p>")
    for title, header, rows in summary_tables(document):
        body.append(f"<h2>{html.escape(title)}</h2>")
        body.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header) + "</tr>" +
                    "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                            for row in rows) + "</table>")
    if document["failures"]:
        body.append("<h2>Failed runs</h2><ul>" + "".join(
            f"<li>{html.escape(f['workload'])}/{html.escape(f['allocator'])}/threads:{f['threads']} "
            f"round {f['round']}: <pre>{html.escape(f['error'])}</pre></li>" for f in document["failures"]) + "</ul>")
    body.append("<h2>Charts</h2>")
    if charts_note:
        body.append(f"<p><strong>No charts:</strong> {html.escape(charts_note)}</p>")
    for title, stem in charts:
        body.append(f"<figure><a href='charts/{stem}.svg'><img src='charts/{stem}.svg' alt='{html.escape(title)}'>"
                    f"</a><figcaption>{html.escape(title)} (<a href='charts/{stem}.png'>PNG</a>)</figcaption></figure>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}"
             "table{border-collapse:collapse;margin:0.5em 0}td,th{border:1px solid #999;padding:2px 8px;"
             "text-align:right}td:first-child,th:first-child{text-align:left}"
             "table.facts td{text-align:left}img{max-width:100%}figure{margin:1em 0}")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>mem_io benchmark report</title>"
                     f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")


def write_folder_outputs(document, out_dir, log):
    """results.csv, charts/ (PNG+SVG), report.html and summary.txt from a results document."""
    results.write_csv(document, os.path.join(out_dir, "results.csv"))
    charts_note = plots.missing_reason()
    drawn = []
    if charts_note:
        print(f"run_bench.py: no charts: {charts_note}", file=log)
    else:
        drawn = chart_data.draw_all(document, os.path.join(out_dir, "charts"))
    write_html(document, os.path.join(out_dir, "report.html"), drawn, charts_note)
    with open(os.path.join(out_dir, "summary.txt"), "w", encoding="utf-8") as handle:
        handle.write(summary_text(document) + "\n")
    return drawn
