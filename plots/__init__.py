"""matplotlib charts for run_bench.py results (see charts.py)."""
