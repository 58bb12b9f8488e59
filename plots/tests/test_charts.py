"""Every chart kind drawn from synthetic plain data: the files draw_all writes, and what the
figures show (faded ties, plain log labels, one style per series, marked short timelines,
hollow upper bounds, charts without data skipped)."""
import os
import subprocess
import sys
import tempfile
import unittest

import matplotlib
from matplotlib import colors

import plots

matplotlib.use("Agg")
import matplotlib.pyplot as pyplot  # noqa: E402  (after choosing the backend)

REPOSITORY_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ORDER = ["mem_io", "system", "jemalloc"]


def bars_chart(series, stem="bars", log=False):
    return {"kind": "bars", "title": "Throughput", "stem": stem, "ylabel": "ratio", "groups": ["churn", "larson"],
            "series": series, "reference_line": 1.0, "log": log, "tie_note": "interval spans 1.0"}


def timeline_series(samples):
    return {"t_ms": list(range(samples)), "mib": [1.0] * samples, "interval_ms": 1}


TIMELINE = {"kind": "timeline", "title": "RSS", "stem": "timeline_w",
            "series": {"mem_io": timeline_series(4), "system": timeline_series(50)},
            "live": {"t_ms": list(range(50)), "mib": [i / 1000 for i in range(50)]}}
LATENCY = {"kind": "latency", "title": "malloc latency", "stem": "latency_malloc",
           "percentiles": ["p50", "p99", "p99.9", "max"],
           "series": {"mem_io": [(20.0, True), (40.0, False), (90.0, False), (900.0, False)],
                      "system": [(30.0, False), (60.0, False), (120.0, False), (1500.0, False)]}}
SCALING = {"kind": "scaling", "title": "Scaling", "stem": "scaling", "x_ticks": [1, 2],
           "panels": {"churn": {"mem_io": [(1, 10.0), (2, 19.0)], "system": [(1, 5.0), (2, 9.0)]},
                      "larson": {"mem_io": [(1, 3.0), (2, 5.5)], "system": []}}}


class DrawTestCase(unittest.TestCase):
    def draw(self, chart, order=ORDER):
        figure = plots.draw(chart, order)
        if figure is not None:
            self.addCleanup(pyplot.close, figure)
        return figure


class DrawAllTest(unittest.TestCase):
    def test_writes_png_and_svg_of_every_chart_with_data_and_skips_the_empty(self):
        charts = [bars_chart({"mem_io": {"churn": (1.5, 1.2, 1.8)}}), SCALING, TIMELINE, LATENCY,
                  bars_chart({}, stem="empty_bars"), dict(LATENCY, stem="empty_latency", series={}),
                  dict(TIMELINE, stem="empty_timeline", live=None)]
        with tempfile.TemporaryDirectory() as scratch:
            out = os.path.join(scratch, "charts")
            drawn = plots.draw_all(charts, out, ORDER)
            stems = ["bars", "scaling", "timeline_w", "latency_malloc"]
            self.assertEqual(drawn, [(chart["title"], chart["stem"]) for chart in charts[:4]])
            self.assertEqual(sorted(os.listdir(out)), sorted(f"{s}.{e}" for s in stems for e in ("png", "svg")))
            for stem in stems:
                with open(os.path.join(out, f"{stem}.png"), "rb") as handle:
                    self.assertEqual(handle.read(8), PNG_MAGIC, stem)
                with open(os.path.join(out, f"{stem}.svg"), encoding="utf-8") as handle:
                    self.assertIn("<svg", handle.read(), stem)

    def test_matplotlib_is_reported_present(self):
        self.assertIsNone(plots.missing_reason())

    def test_drawing_never_imports_runbench(self):
        # Data flows one way: runbench converts its results for plots, never the reverse.
        draw_every_kind = ("import sys, tempfile\n"
                           "import plots\n"
                           "from plots.tests.test_charts import LATENCY, ORDER, SCALING, TIMELINE, bars_chart\n"
                           "with tempfile.TemporaryDirectory() as out:\n"
                           "    plots.draw_all([bars_chart({}), SCALING, TIMELINE, LATENCY], out, ORDER)\n"
                           "print(' '.join(name for name in sys.modules if name.split('.')[0] == 'runbench'))\n")
        proc = subprocess.run([sys.executable, "-c", draw_every_kind], cwd=REPOSITORY_ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stdout.strip(), "")


class BarsTest(DrawTestCase):
    def test_a_tie_is_faded_and_the_legend_says_so(self):
        figure = self.draw(bars_chart({"mem_io": {"churn": (2.0, 1.5, 2.5, False), "larson": (1.1, 0.9, 1.3, True)},
                                       "system": {"churn": (1.0, 1.0, 1.0), "larson": (1.0, 1.0, 1.0)}}))
        axes = figure.axes[0]
        alphas = [patch.get_alpha() for patch in axes.patches]
        self.assertEqual(alphas.count(0.3), 1)
        self.assertEqual(len(alphas), 4)
        self.assertEqual(axes.get_legend().get_title().get_text(), "faded: tie (interval spans 1.0)")

    def test_one_series_keeps_its_colour_whichever_others_have_data(self):
        alone = self.draw(bars_chart({"jemalloc": {"churn": (1.0, 1.0, 1.0)}}))
        beside = self.draw(bars_chart({"mem_io": {"churn": (2.0, 2.0, 2.0)}, "jemalloc": {"larson": (1.0, 1.0, 1.0)}}))
        face = [colors.to_hex(figure.axes[0].patches[-1].get_facecolor()) for figure in (alone, beside)]
        self.assertEqual(face[0], face[1])
        self.assertEqual(face[0], "#009e73")  # the third colour: jemalloc is third in ORDER

    def test_log_axis_labels_are_plain_numbers(self):
        figure = self.draw(bars_chart({"mem_io": {"churn": (2.0, 1.5, 2.5), "larson": (0.5, 0.4, 0.6)}}, log=True))
        axes = figure.axes[0]
        figure.canvas.draw()
        labels = [t.get_text() for t in axes.get_yticklabels() + axes.get_yticklabels(minor=True) if t.get_text()]
        self.assertIn("1", labels)
        self.assertFalse(any("10^" in label or "times" in label for label in labels), labels)

    def test_no_value_in_any_series_draws_nothing(self):
        self.assertIsNone(self.draw(bars_chart({"mem_io": {}})))


class TimelineTest(DrawTestCase):
    def test_short_replay_is_marked_and_explained_with_the_legend_below_the_axes(self):
        figure = self.draw(TIMELINE)
        axes = figure.axes[0]
        lines = {line.get_label(): line for line in axes.get_lines()}
        short = next(line for label, line in lines.items() if label.startswith("mem_io"))
        long = next(line for label, line in lines.items() if label.startswith("system"))
        self.assertNotEqual(short.get_marker(), "None")
        self.assertEqual(long.get_marker(), "None")
        self.assertEqual(list(short.get_xdata()), [0.0, 100 / 3, 200 / 3, 100.0])  # % of the replay
        self.assertIn("4 samples", short.get_label())
        self.assertTrue(any("fewer than 20 samples" in text.get_text() for text in figure.texts))
        self.assertLess(axes.get_legend().get_bbox_to_anchor().y1, axes.bbox.y0)

    def test_without_live_bytes_there_is_no_chart(self):
        self.assertIsNone(self.draw(dict(TIMELINE, live=None)))


class LatencyTest(DrawTestCase):
    def test_an_upper_bound_is_hollow_and_the_axis_is_labelled_by_percentile(self):
        figure = self.draw(LATENCY)
        axes = figure.axes[0]
        mem_io_points = axes.collections[0]
        self.assertEqual(mem_io_points.get_facecolors()[0][3], 0)  # 'none': transparent
        self.assertEqual(mem_io_points.get_facecolors()[1][3], 1)
        self.assertEqual([t.get_text() for t in axes.get_xticklabels()], LATENCY["percentiles"])
        self.assertEqual(axes.get_yscale(), "log")


class ScalingTest(DrawTestCase):
    def test_a_panel_per_workload_a_line_per_series_with_points(self):
        figure = self.draw(SCALING)
        titled = [axes for axes in figure.axes if axes.get_title()]
        self.assertEqual([axes.get_title() for axes in titled], ["churn", "larson"])
        self.assertEqual(len(titled[0].get_lines()), 2)
        self.assertEqual(len(titled[1].get_lines()), 1)  # system has no points there
        self.assertIsNotNone(titled[0].get_legend())  # no spare panel to hold it


if __name__ == "__main__":
    unittest.main()
