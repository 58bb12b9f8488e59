"""Charts from a results.json document (runbench.results schema), drawn with matplotlib's Agg backend.

draw_all(document, out_dir) writes every chart as PNG and SVG and returns [(title, file stem)].
missing_reason() says why charts cannot be drawn (matplotlib absent), or returns None.
Colours: the Okabe–Ito palette, safe for the common kinds of colour blindness; bars also carry
hatches and lines markers so no chart relies on colour alone.
"""
import os
import sys
import textwrap

from runbench import results, stats

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
HATCHES = ("", "//", "..", "xx", "\\\\", "--", "++", "oo")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
LATENCY_OPS = ("malloc", "free", "realloc", "calloc", "aligned")
PERCENTILES = (("p50", "p50"), ("p99", "p99"), ("p999", "p99.9"), ("max", "max"))
MIB = 1024 * 1024
# Titles wrap at this many characters per inch of figure width: a chart opened at its saved
# size must show all of its text.
TITLE_CHARACTERS_PER_INCH = 10
# A timeline with fewer samples than this (the harness samples RSS every interval_ms, 1 ms at
# first) is too short to show a shape: its points are marked and the chart says why it is flat.
FEW_SAMPLES = 20


def missing_reason():
    try:
        import matplotlib  # noqa: F401  (only checking that it can be imported)
    except ImportError as error:
        return (f"matplotlib cannot be imported by {sys.executable} ({error}); install the Debian "
                "package python3-matplotlib and run run_bench.py with /usr/bin/python3")
    return None


def draw_all(document, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    os.makedirs(out_dir, exist_ok=True)
    styles = _styles(results.allocators_in(document))
    drawn = []
    for title, stem, draw in _chart_plan(document):
        figure = draw(pyplot, document, styles, title)
        if figure is None:
            continue
        figure.tight_layout()
        for extension in ("png", "svg"):
            figure.savefig(os.path.join(out_dir, f"{stem}.{extension}"), dpi=110)
        pyplot.close(figure)
        drawn.append((title, stem))
    return drawn


def _chart_plan(document):
    plan = []
    for threads in results.threads_in(document):
        plan.append((f"Throughput relative to system malloc, {_copies(threads)}",
                     f"throughput_threads{threads}", _bind(_throughput, threads)))
    base_threads = min(results.threads_in(document), default=1)
    plan.append((f"Throughput per CPU second of the replay threads relative to system malloc, "
                 f"{_copies(base_threads)}", "cpu_throughput", _bind(_cpu_throughput, base_threads)))
    plan.append((f"Fragmentation, {_copies(base_threads)}", "fragmentation", _bind(_fragmentation, base_threads)))
    plan.append((f"Peak RSS, {_copies(base_threads)}", "peak_rss", _bind(_peak_rss, base_threads)))
    if len(results.threads_in(document)) > 1:
        plan.append(("Thread scaling: throughput against copies of the trace", "scaling", _scaling))
    for workload in results.workloads_in(document):
        plan.append((f"RSS over time against live bytes: {workload}", f"timeline_{workload}",
                     _bind(_timeline, workload, base_threads)))
    for op in LATENCY_OPS:
        plan.append((f"{op} latency percentiles (geometric mean over workloads), {_copies(base_threads)}",
                     f"latency_{op}", _bind(_latency, op, base_threads)))
    return plan


def _bind(function, *bound):
    return lambda pyplot, document, styles, title: function(pyplot, document, styles, title, *bound)


def _copies(threads):
    return "1 copy of each trace" if threads == 1 else f"{threads} concurrent copies of each trace"


def _styles(allocators):
    return {name: (OKABE_ITO[i % len(OKABE_ITO)], HATCHES[i % len(HATCHES)], MARKERS[i % len(MARKERS)])
            for i, name in enumerate(allocators)}


def _grouped_bars(pyplot, title, ylabel, workloads, styles, value_of, reference_line=None, log=False):
    """Bars per workload, one per allocator; value_of(workload, allocator) -> (value, low, high) or
    (value, low, high, tie) or None. A tie (interval spanning 1.0) is drawn faded."""
    allocators = list(styles)
    width = 0.8 / max(len(allocators), 1)
    figure, axes = pyplot.subplots(figsize=(max(6.0, 0.9 * len(workloads) + 2), 4.8))
    any_bar = any_tie = False
    for index, allocator in enumerate(allocators):
        colour, hatch, _ = styles[allocator]
        xs, heights, below, above, ties = [], [], [], [], []
        for position, workload in enumerate(workloads):
            found = value_of(workload, allocator)
            if found is None:
                continue
            value, low, high = found[:3]
            xs.append(position + (index - (len(allocators) - 1) / 2) * width)
            heights.append(value)
            below.append(max(value - low, 0))
            above.append(max(high - value, 0))
            ties.append(len(found) > 3 and found[3])
        if xs:
            any_bar = True
            bars = axes.bar(xs, heights, width, yerr=[below, above], capsize=2, label=allocator, color=colour,
                            hatch=hatch, edgecolor="black", linewidth=0.5)
            for bar, tie in zip(bars, ties):
                if tie:
                    bar.set_alpha(0.3)
                    any_tie = True
    if not any_bar:
        pyplot.close(figure)
        return None
    if reference_line is not None:
        axes.axhline(reference_line, color="black", linewidth=0.8, linestyle="--")
    if log:
        _log_scale_with_plain_ticks(axes)
    axes.set_xticks(range(len(workloads)))
    axes.set_xticklabels(workloads, rotation=30, ha="right")
    axes.set_xlabel("workload")
    axes.set_ylabel(ylabel)
    # The tie note adds a line above the legend, which sits above the axes: the title moves up.
    axes.set_title(_wrapped(title, figure), pad=40 if any_tie else 28)
    axes.legend(fontsize="small", ncol=min(len(allocators), 8), loc="lower center", bbox_to_anchor=(0.5, 1.0),
                frameon=False, title="faded: tie (95 % interval spans 1.0)" if any_tie else None,
                title_fontsize="small")
    axes.grid(axis="y", alpha=0.3)
    return figure


def _log_scale_with_plain_ticks(axes):
    """A log y-axis labelled 0.5, 1, 2, … rather than matplotlib's 5×10⁻¹, 10⁰, 2×10⁰. Call it
    after plotting: the minor ticks are labelled only within a decade, where the major ticks
    alone would leave the axis with one label or none."""
    from matplotlib import ticker
    axes.set_yscale("log")
    plain = ticker.FuncFormatter(lambda value, _position: f"{value:g}")
    axes.yaxis.set_major_formatter(plain)
    low, high = axes.get_ylim()
    axes.yaxis.set_minor_formatter(plain if high / low < 10 else ticker.NullFormatter())


def _wrapped(title, figure):
    return "\n".join(textwrap.wrap(title, int(figure.get_figwidth() * TITLE_CHARACTERS_PER_INCH)))


def _spread(values):
    return (stats.median(values), min(values), max(values)) if values else None


def _metric_spread(document, threads, metric, scale=1.0):
    def value_of(workload, allocator):
        run = results.find_run(document, workload, allocator, threads)
        return _spread([v * scale for v in results.values(run, metric)]) if run else None
    return value_of


def _relative_bars(document, threads, metric):
    """value_of for _grouped_bars: results.relative's median, 95 % interval and tie flag."""
    def value_of(workload, allocator):
        if allocator == results.REFERENCE_ALLOCATOR:
            return (1.0, 1.0, 1.0)  # by definition
        found = results.relative(document, workload, allocator, threads, metric)
        return found and (found.value, found.low, found.high, found.verdict == stats.NOT_SEPARATED)
    return value_of


def _throughput(pyplot, document, styles, title, threads):
    return _grouped_bars(
        pyplot, title, "throughput ÷ system malloc\n(log scale; higher is better)",
        results.workloads_in(document), styles, _relative_bars(document, threads, results.THROUGHPUT),
        reference_line=1.0, log=True)


def _cpu_throughput(pyplot, document, styles, title, threads):
    return _grouped_bars(
        pyplot, title, "ops per CPU-s ÷ system malloc\n(log scale; higher is better)",
        results.workloads_in(document), styles, _relative_bars(document, threads, "cpu_ops_per_s"),
        reference_line=1.0, log=True)


def _fragmentation(pyplot, document, styles, title, threads):
    return _grouped_bars(pyplot, title, "(peak RSS − baseline RSS)\n÷ peak live bytes (lower is better)",
                         results.workloads_in(document), styles,
                         _metric_spread(document, threads, "fragmentation"), reference_line=1.0)


def _peak_rss(pyplot, document, styles, title, threads):
    return _grouped_bars(pyplot, title, "peak RSS (MiB, lower is better)", results.workloads_in(document),
                         styles, _metric_spread(document, threads, "peak_rss_bytes", 1 / MIB))


def _scaling(pyplot, document, styles, title):
    workloads = results.workloads_in(document)
    columns = min(4, len(workloads))
    rows = -(-len(workloads) // columns)
    figure, grid = pyplot.subplots(rows, columns, figsize=(3.2 * columns, 2.8 * rows), squeeze=False)
    thread_counts = results.threads_in(document)
    for axes, workload in zip(grid.flat, workloads):
        for allocator, (colour, _, marker) in styles.items():
            points = [(t, results.median_metric(results.find_run(document, workload, allocator, t), "ops_per_s"))
                      for t in thread_counts]
            points = [(t, v / 1e6) for t, v in points if v]
            if points:
                axes.plot(*zip(*points), marker=marker, color=colour, label=allocator)
        axes.set_title(workload, fontsize="medium")
        axes.set_xticks(thread_counts)
        axes.set_xlabel("copies (threads)")
        axes.set_ylabel("Mops/s")
        axes.grid(alpha=0.3)
    handles, labels = grid.flat[0].get_legend_handles_labels()
    spare = list(grid.flat)[len(workloads):]
    for axes in spare:
        axes.axis("off")
    if spare:
        spare[0].legend(handles, labels, loc="center")
    else:
        grid.flat[0].legend(fontsize="small")
    figure.suptitle(title)
    return figure


def _progress(t_ms):
    """Sample times as % of the replay's duration, so allocators of different speeds line up."""
    end = t_ms[-1] or 1.0
    return [100.0 * t / end for t in t_ms]


def _timeline(pyplot, document, styles, title, workload, threads):
    timelines = {}
    for allocator in styles:
        run = results.find_run(document, workload, allocator, threads)
        timeline = run.get("timeline") if run else None
        if timeline and timeline.get("t_ms"):
            timelines[allocator] = timeline
    # live bytes are the trace's, the same under every allocator: draw the best-sampled copy
    live = max((t for t in timelines.values() if t.get("live_bytes")), key=lambda t: len(t["t_ms"]), default=None)
    if live is None:
        return None
    figure, axes = pyplot.subplots(figsize=(7, 5.2))
    short = []
    for allocator, timeline in timelines.items():
        colour, _, marker = styles[allocator]
        samples = len(timeline["t_ms"])
        if samples < FEW_SAMPLES:
            short.append(allocator)
        baseline = timeline.get("baseline_rss_bytes", 0)
        axes.plot(_progress(timeline["t_ms"]), [(r - baseline) / MIB for r in timeline["rss_bytes"]],
                  color=colour, marker=marker if samples < FEW_SAMPLES else None, markersize=4,
                  label=f"{allocator}: RSS − baseline ({timeline['t_ms'][-1]:.0f} ms, {samples} samples)")
    axes.plot(_progress(live["t_ms"]), [b / MIB for b in live["live_bytes"]], color="black",
              linestyle="--", linewidth=1.2, label="live requested bytes")
    axes.set_xlabel("progress through the replay (% of its wall time)")
    axes.set_ylabel("MiB")
    axes.set_title(_wrapped(title, figure))
    axes.legend(fontsize="small", ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    axes.grid(alpha=0.3)
    if short:
        interval = min(timelines[name].get("interval_ms", 1) for name in short)
        figure.text(0.01, 0.01, f"Marked lines: fewer than {FEW_SAMPLES} samples (RSS is sampled every "
                    f"{interval:g} ms), a replay too short to show a shape.", fontsize="x-small", style="italic")
    return figure


def _latency_points(document, allocator, op, threads):
    """[(percentile index, ns, censored)]: per percentile the geometric mean over the workloads
    that report all four percentiles (so p50 <= p99 <= p99.9 <= max holds for the means as it
    does in each run) of each workload's median over repetitions; censored when any workload's
    value is only an upper bound (below the timer's resolution)."""
    per_workload = []
    for workload in results.workloads_in(document):
        run = results.find_run(document, workload, allocator, threads)
        medians = [results.median_metric(run, f"lat_{op}_{key}_ns") for key, _ in PERCENTILES]
        if all(medians):
            censored = [any(results.values(run, f"lat_{op}_{key}_censored")) for key, _ in PERCENTILES]
            per_workload.append((medians, censored))
    if not per_workload:
        return []
    return [(index, stats.geometric_mean([m[index] for m, _ in per_workload]),
             any(c[index] for _, c in per_workload)) for index in range(len(PERCENTILES))]


def _latency(pyplot, document, styles, title, op, threads):
    figure, axes = pyplot.subplots(figsize=(6.5, 4.2))
    drawn = False
    for allocator, (colour, _, marker) in styles.items():
        points = _latency_points(document, allocator, op, threads)
        if points:
            drawn = True
            xs, ys, censored = zip(*points)
            axes.plot(xs, ys, color=colour, label=allocator)
            axes.scatter(xs, ys, marker=marker, color=colour,
                         facecolors=["none" if c else colour for c in censored], zorder=3)
    if not drawn:
        pyplot.close(figure)
        return None
    _log_scale_with_plain_ticks(axes)
    axes.set_xticks(range(len(PERCENTILES)))
    axes.set_xticklabels([label for _, label in PERCENTILES])
    axes.set_xlabel("percentile (hollow: an upper bound, below the timer's resolution)")
    axes.set_ylabel("latency per call (ns, log scale)")
    axes.set_title(_wrapped(title, figure), fontsize="medium")
    axes.legend(fontsize="small")
    axes.grid(alpha=0.3, which="both")
    return figure
