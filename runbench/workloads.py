"""Finding workloads: the shipped traces under workloads/, or names, globs and paths the user gives."""
import fnmatch
import glob
import os
from dataclasses import dataclass
from typing import Optional

from runbench.errors import UsageError

TRACE_SUFFIXES = (".trace.gz", ".trace")


@dataclass(frozen=True)
class Workload:
    name: str
    path: str
    threads: Optional[int] = None  # replay threads of one copy (mem_io_replay --check), once validated


def workload_name(path):
    base = os.path.basename(path)
    for suffix in TRACE_SUFFIXES:
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def shipped(repo_root):
    """Every workloads/**/*.trace.gz in the repository, sorted by name."""
    pattern = os.path.join(repo_root, "workloads", "**", "*.trace.gz")
    paths = sorted(glob.glob(pattern, recursive=True))
    return [Workload(workload_name(p), os.path.abspath(p)) for p in paths]


def select(specs, repo_root):
    """Resolve user specs (shipped names, fnmatch globs over names, or trace file paths)."""
    available = shipped(repo_root)
    if not specs:
        if not available:
            raise UsageError(f"no workloads: {repo_root}/workloads/ holds no *.trace.gz files; "
                             "pass trace files with --workloads")
        return available
    chosen = []
    for spec in specs:
        chosen.extend(_resolve_spec(spec, available))
    return _unique(chosen)


def _resolve_spec(spec, available):
    if os.path.isfile(spec):
        return [Workload(workload_name(spec), os.path.abspath(spec))]
    by_name = [w for w in available if fnmatch.fnmatchcase(w.name, spec)]
    if by_name:
        return by_name
    if os.sep in spec or spec.endswith(TRACE_SUFFIXES):
        if os.path.exists(spec):
            raise UsageError(f"workload '{spec}': not a regular file")
        raise UsageError(f"workload '{spec}': trace file does not exist")
    known = ", ".join(w.name for w in available) or "none shipped"
    raise UsageError(f"workload '{spec}': no shipped workload matches it and no such file exists "
                     f"(shipped: {known})")


def _unique(workloads):
    seen = {}
    for w in workloads:
        if w.name in seen and seen[w.name].path != w.path:
            raise UsageError(f"two traces share the workload name '{w.name}': {seen[w.name].path} "
                             f"and {w.path}; rename one")
        seen[w.name] = w
    return list(seen.values())
