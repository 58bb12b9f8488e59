"""run_bench.py's implementation: build, benchmark, results, charts, report and the regression gate."""
