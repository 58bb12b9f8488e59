"""Allocator names -> how the harness runs them.

Public API (also used by runbench/stress.py):

    resolve(spec, build_dir) -> Allocator
        spec: 'mem_io' | 'system' | 'bump' | 'jemalloc' | 'tcmalloc' | 'mimalloc'
              | 'mem_io-preload' | 'NAME=PATH.so'
        build_dir: the CMake build directory (for mem_io's drop-in library).
        Raises runbench.errors.UsageError for unknown names or missing libraries.
    resolve_for_programs(spec, build_dir) -> Allocator
        the same for running unmodified programs under LD_PRELOAD: 'mem_io' is its drop-in
        library there, and 'bump' (harness-only) is refused.
    resolve_all(specs, build_dir, resolve_one=resolve) -> list[Allocator]   (rejects duplicate names)
    Allocator.name              label used in results and charts
    Allocator.harness_allocator value for `mem_io_replay --allocator=`
    Allocator.preload_path      absolute .so path for LD_PRELOAD, or None
    Allocator.package           Debian package that ships it (for its version), or None
    Allocator.environment(base) copy of `base` (a dict) with LD_PRELOAD set when needed

Every allocator other than mem_io (linked), system and bump runs as the harness's `system`
adapter with its library preloaded, so peers are measured through the same code path.
"""
import dataclasses
import os
from dataclasses import dataclass
from typing import Optional

from runbench.errors import UsageError

LIB_DIR = "/usr/lib/x86_64-linux-gnu"
DEFAULT_ALLOCATORS = ("mem_io", "system", "jemalloc", "tcmalloc", "mimalloc")

# name -> (harness adapter, library path or None, Debian package or None)
_BUILTIN = {
    "mem_io": ("mem_io", None, None),
    "system": ("system", None, "libc6"),
    "bump": ("bump", None, None),
    "jemalloc": ("system", f"{LIB_DIR}/libjemalloc.so.2", "libjemalloc2"),
    "tcmalloc": ("system", f"{LIB_DIR}/libtcmalloc_minimal.so.4", "libtcmalloc-minimal4"),
    "mimalloc": ("system", f"{LIB_DIR}/libmimalloc.so.2", "libmimalloc2.0"),
}
DROPIN_NAME = "mem_io-preload"
DROPIN_RELATIVE_PATH = os.path.join("allocator", "dropin", "libmem_io.so")


@dataclass(frozen=True)
class Allocator:
    name: str
    harness_allocator: str
    preload_path: Optional[str] = None
    package: Optional[str] = None

    def environment(self, base):
        env = dict(base)
        if self.preload_path:
            env["LD_PRELOAD"] = self.preload_path
        else:
            env.pop("LD_PRELOAD", None)
        return env


def known_names():
    return sorted(_BUILTIN) + [DROPIN_NAME]


def resolve(spec, build_dir):
    spec = spec.strip()
    if "=" in spec:
        name, path = (part.strip() for part in spec.split("=", 1))
        if not name or not path:
            raise UsageError(f"allocator '{spec}': expected NAME=PATH.so with both parts non-empty")
        return Allocator(name, "system", _existing_library(path, f"allocator '{name}'"))
    if spec == DROPIN_NAME:
        path = os.path.join(build_dir, DROPIN_RELATIVE_PATH)
        return Allocator(spec, "system", _existing_library(path, f"allocator '{spec}' (build target mem_io_shared)"))
    if spec not in _BUILTIN:
        raise UsageError(f"unknown allocator '{spec}': use one of {', '.join(known_names())}, or NAME=PATH.so")
    adapter, path, package = _BUILTIN[spec]
    if path:
        path = _existing_library(path, f"allocator '{spec}' (Debian package {package})")
    return Allocator(spec, adapter, path, package)


def resolve_for_programs(spec, build_dir):
    if spec.strip() == "bump":
        raise UsageError("allocator 'bump' exists only inside the replay harness; it cannot run programs")
    if spec.strip() == "mem_io":
        return dataclasses.replace(resolve(DROPIN_NAME, build_dir), name="mem_io")
    return resolve(spec, build_dir)


def resolve_all(specs, build_dir, resolve_one=resolve):
    allocators = [resolve_one(spec, build_dir) for spec in specs]
    names = [a.name for a in allocators]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise UsageError(f"allocator names must be unique; repeated: {', '.join(duplicates)}")
    return allocators


def _existing_library(path, what):
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise UsageError(f"{what}: library {path} does not exist")
    return path
