"""What fastpath and callgrind_pairs share: finding a built fast-path program, and which API a
program calls for an allocator."""
import os

from runbench.errors import UsageError

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_BUILD_DIR = os.path.join(REPO_ROOT, "build", "bench")


def built(build_dir, name):
    """The path of harness/fastpath/NAME in build_dir; UsageError saying how to build it if absent."""
    path = os.path.join(build_dir, "harness", "fastpath", name)
    if not os.access(path, os.X_OK):
        raise UsageError(f"{path} is not built: cmake --build {build_dir} --target fastpath_programs")
    return path


def api(allocator):
    """mem_io is called through its own API (linked); every other allocator through malloc, preloaded."""
    return "mem_io" if allocator.harness_allocator == "mem_io" else "malloc"
