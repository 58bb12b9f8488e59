"""Bar, scaling, timeline and latency charts from plain data, drawn with matplotlib's Agg backend.

A chart is a dict: "kind" (one of KINDS), "title", "stem" (the file name without extension) and
the fields that kind's drawing function below takes as keyword arguments. Every function receives
`styles`, one (colour, hatch, marker) per series name, made by draw from series_order so that
a series looks the same in every chart.
Colours: the Okabe–Ito palette, safe for the common kinds of colour blindness; bars also carry
hatches and lines markers so no chart relies on colour alone.
"""
import os
import sys
import textwrap

OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
HATCHES = ("", "//", "..", "xx", "\\\\", "--", "++", "oo")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
# Titles wrap at this many characters per inch of figure width: a chart opened at its saved
# size must show all of its text.
TITLE_CHARACTERS_PER_INCH = 10
# A timeline with fewer samples than this is too short to show a shape: its points are marked
# and the chart says why it is flat.
FEW_SAMPLES = 20


def missing_reason():
    """Why charts cannot be drawn (matplotlib absent), or None."""
    try:
        import matplotlib  # noqa: F401  (only checking that it can be imported)
    except ImportError as error:
        return (f"matplotlib cannot be imported by {sys.executable} ({error}); install the Debian "
                "package python3-matplotlib and run run_bench.py with /usr/bin/python3")
    return None


def draw_all(charts, out_dir, series_order):
    """Write each chart as PNG and SVG into out_dir; returns [(title, stem)] of those drawn (a chart
    with no data is skipped). series_order: every series name, in the order that fixes its style."""
    pyplot = _pyplot()
    os.makedirs(out_dir, exist_ok=True)
    drawn = []
    for chart in charts:
        figure = draw(chart, series_order)
        if figure is None:
            continue
        figure.tight_layout()
        for extension in ("png", "svg"):
            figure.savefig(os.path.join(out_dir, f"{chart['stem']}.{extension}"), dpi=110)
        pyplot.close(figure)
        drawn.append((chart["title"], chart["stem"]))
    return drawn


def draw(chart, series_order):
    """One chart as a matplotlib Figure (the caller closes it), or None when it has no data."""
    fields = {key: value for key, value in chart.items() if key not in ("kind", "stem")}
    return KINDS[chart["kind"]](_pyplot(), styles=_styles(series_order), **fields)


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot
    return pyplot


def _styles(series_order):
    return {name: (OKABE_ITO[i % len(OKABE_ITO)], HATCHES[i % len(HATCHES)], MARKERS[i % len(MARKERS)])
            for i, name in enumerate(series_order)}


def bars(pyplot, styles, title, ylabel, groups, series, reference_line=None, log=False, tie_note=None):
    """Grouped bars: per group (x label) one bar per series, in the styles' order.
    series: {name: {group: (value, low, high) or (value, low, high, tie)}}, a group missing where a
    series has no value; error bars span low–high; a tie (True) is drawn faded, and the legend
    says "faded: tie (tie_note)", tie_note saying what makes a tie."""
    names = list(styles)
    width = 0.8 / max(len(names), 1)
    figure, axes = pyplot.subplots(figsize=(max(6.0, 0.9 * len(groups) + 2), 4.8))
    any_bar = any_tie = False
    for index, name in enumerate(names):
        colour, hatch, _ = styles[name]
        xs, heights, below, above, ties = [], [], [], [], []
        for position, group in enumerate(groups):
            found = series.get(name, {}).get(group)
            if found is None:
                continue
            value, low, high = found[:3]
            xs.append(position + (index - (len(names) - 1) / 2) * width)
            heights.append(value)
            below.append(max(value - low, 0))
            above.append(max(high - value, 0))
            ties.append(len(found) > 3 and found[3])
        if xs:
            any_bar = True
            drawn = axes.bar(xs, heights, width, yerr=[below, above], capsize=2, label=name, color=colour,
                             hatch=hatch, edgecolor="black", linewidth=0.5)
            for bar, tie in zip(drawn, ties):
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
    axes.set_xticks(range(len(groups)))
    axes.set_xticklabels(groups, rotation=30, ha="right")
    axes.set_xlabel("workload")
    axes.set_ylabel(ylabel)
    # The tie note adds a line above the legend, which sits above the axes: the title moves up.
    axes.set_title(_wrapped(title, figure), pad=40 if any_tie else 28)
    axes.legend(fontsize="small", ncol=min(len(names), 8), loc="lower center", bbox_to_anchor=(0.5, 1.0),
                frameon=False, title=_tie_legend(tie_note) if any_tie else None,
                title_fontsize="small")
    axes.grid(axis="y", alpha=0.3)
    return figure


def scaling(pyplot, styles, title, x_ticks, panels):
    """One small panel per workload, a line per series: panels {workload: {name: [(x, y), …]}},
    x = concurrent copies (threads), y = Mops/s; x_ticks: every x that ran."""
    workloads = list(panels)
    columns = min(4, len(workloads))
    rows = -(-len(workloads) // columns)
    figure, grid = pyplot.subplots(rows, columns, figsize=(3.2 * columns, 2.8 * rows), squeeze=False)
    for axes, workload in zip(grid.flat, workloads):
        for name, (colour, _, marker) in styles.items():
            points = panels[workload].get(name)
            if points:
                axes.plot(*zip(*points), marker=marker, color=colour, label=name)
        axes.set_title(workload, fontsize="medium")
        axes.set_xticks(x_ticks)
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


def timeline(pyplot, styles, title, series, live):
    """Memory over a replay, x as % of each replay's own duration so that allocators of different
    speeds line up. series (drawn in the styles' order): {name: {"t_ms": […], "mib": […], "interval_ms": sampling interval}};
    live: {"t_ms": […], "mib": […]}, the trace's live requested bytes (a dashed line), or None."""
    if live is None:
        return None
    figure, axes = pyplot.subplots(figsize=(7, 5.2))
    short = []
    for name, (colour, _, marker) in styles.items():
        line = series.get(name)
        if line is None:
            continue
        samples = len(line["t_ms"])
        if samples < FEW_SAMPLES:
            short.append(name)
        axes.plot(_progress(line["t_ms"]), line["mib"],
                  color=colour, marker=marker if samples < FEW_SAMPLES else None, markersize=4,
                  label=f"{name}: RSS − baseline ({line['t_ms'][-1]:.0f} ms, {samples} samples)")
    axes.plot(_progress(live["t_ms"]), live["mib"], color="black",
              linestyle="--", linewidth=1.2, label="live requested bytes")
    axes.set_xlabel("progress through the replay (% of its wall time)")
    axes.set_ylabel("MiB")
    axes.set_title(_wrapped(title, figure))
    axes.legend(fontsize="small", ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    axes.grid(alpha=0.3)
    if short:
        interval = min(series[name]["interval_ms"] for name in short)
        figure.text(0.01, 0.01, f"Marked lines: fewer than {FEW_SAMPLES} samples (RSS is sampled every "
                    f"{interval:g} ms), a replay too short to show a shape.", fontsize="x-small", style="italic")
    return figure


def latency(pyplot, styles, title, percentiles, series):
    """Latency per percentile on a log axis: percentiles, the x labels; series: {name: [(ns,
    upper_bound), …] one per percentile}, an upper bound drawn hollow."""
    figure, axes = pyplot.subplots(figsize=(6.5, 4.2))
    drawn = False
    for name, (colour, _, marker) in styles.items():
        points = series.get(name)
        if points:
            drawn = True
            xs = range(len(points))
            ys, upper_bounds = zip(*points)
            axes.plot(xs, ys, color=colour, label=name)
            axes.scatter(xs, ys, marker=marker, color=colour,
                         facecolors=["none" if bound else colour for bound in upper_bounds], zorder=3)
    if not drawn:
        pyplot.close(figure)
        return None
    _log_scale_with_plain_ticks(axes)
    axes.set_xticks(range(len(percentiles)))
    axes.set_xticklabels(percentiles)
    axes.set_xlabel("percentile (hollow: an upper bound, below the timer's resolution)")
    axes.set_ylabel("latency per call (ns, log scale)")
    axes.set_title(_wrapped(title, figure), fontsize="medium")
    axes.legend(fontsize="small")
    axes.grid(alpha=0.3, which="both")
    return figure


KINDS = {"bars": bars, "scaling": scaling, "timeline": timeline, "latency": latency}


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


def _tie_legend(tie_note):
    return f"faded: tie ({tie_note})" if tie_note else "faded: tie"


def _wrapped(title, figure):
    return "\n".join(textwrap.wrap(title, int(figure.get_figwidth() * TITLE_CHARACTERS_PER_INCH)))


def _progress(t_ms):
    """Sample times as % of the replay's duration."""
    end = t_ms[-1] or 1.0
    return [100.0 * t / end for t in t_ms]
