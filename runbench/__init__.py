"""run_bench.py's implementation: build, benchmark, results, charts, report and the regression gate."""
import os

# The checkout's top folder: default paths (build/, results/, workloads/) are found from it, so
# every command works from any current folder.
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
