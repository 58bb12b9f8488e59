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
    verify(allocators, harness_binary) -> {name: {"malloc": file, "free": file}}
        runs `mem_io_replay --probe` under each allocator's environment before anything is
        measured; raises UsageError unless each preloaded library is an ELF shared object that
        ld.so preloads without complaint and that really serves malloc and free.

Every allocator other than mem_io (linked), system and bump runs as the harness's `system`
adapter with its library preloaded, so peers are measured through the same code path.
"""
import dataclasses
import json
import os
import subprocess
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
ELF_MAGIC = b"\x7fELF"
ELF_SHARED_OBJECT = 3  # e_type ET_DYN, a little-endian 16-bit field at offset 16 on x86-64
PROBE_TIMEOUT_S = 60
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


def verify(allocators, harness_binary, timeout_s=PROBE_TIMEOUT_S):
    """Probe every allocator in a replay process; return {name: {"malloc": file, "free": file}}.

    A preloaded library that ld.so ignores (not ELF, wrong architecture) or that does not define
    malloc and free (libz) would silently measure glibc under another name: refuse it instead.
    """
    served = {}
    for allocator in allocators:
        if allocator.harness_allocator == "mem_io" or allocator.harness_allocator == "bump":
            continue  # linked into the harness; it never calls malloc for the replayed ops
        if allocator.preload_path:
            _require_shared_object(allocator)
        served[allocator.name] = _probe(allocator, harness_binary, timeout_s)
        if allocator.preload_path:
            for symbol in ("malloc", "free"):
                found = served[allocator.name][symbol]
                if os.path.realpath(found) != os.path.realpath(allocator.preload_path):
                    raise UsageError(f"allocator '{allocator.name}': {allocator.preload_path} does not serve "
                                     f"{symbol} (the replay process resolves it in {found or 'no library'})")
    return served


def _require_shared_object(allocator):
    try:
        with open(allocator.preload_path, "rb") as handle:
            header = handle.read(18)
    except OSError as error:
        raise UsageError(f"allocator '{allocator.name}': cannot read {allocator.preload_path}: {error.strerror}")
    if header[:4] != ELF_MAGIC:
        raise UsageError(f"allocator '{allocator.name}': {allocator.preload_path} is not an ELF file")
    if len(header) < 18 or int.from_bytes(header[16:18], "little") != ELF_SHARED_OBJECT:
        raise UsageError(f"allocator '{allocator.name}': {allocator.preload_path} is an ELF file but not a "
                         "shared object (.so)")


def _probe(allocator, harness_binary, timeout_s):
    what = f"allocator '{allocator.name}'"
    try:
        proc = subprocess.run([harness_binary, "--probe"], env=allocator.environment(os.environ),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                              timeout=timeout_s)
    except subprocess.TimeoutExpired:
        raise UsageError(f"{what}: the probe process ran longer than {timeout_s} s")
    lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    if proc.returncode != 0:
        raise UsageError(f"{what}: the probe process failed with exit status {proc.returncode}: "
                         f"{lines[-1] if lines else '(no message)'}")
    complaint = next((line for line in lines if "ld.so" in line), None)
    if complaint:  # ld.so warns and goes on without the library
        raise UsageError(f"{what}: {complaint}")
    try:
        found = json.loads(proc.stdout)
        return {"malloc": str(found["malloc"]), "free": str(found["free"])}
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"{what}: unexpected probe output from {harness_binary}: {proc.stdout.strip()[:200]!r}")
