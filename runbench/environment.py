"""Facts about the machine and the build, saved beside every result so runs can be compared honestly."""
import os
import platform
import subprocess


def _command_output(args, cwd=None):
    try:
        proc = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              errors="replace", cwd=cwd, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_bytes():
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def glibc_version():
    try:
        return os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        return None


def compiler(build_dir):
    """The C++ compiler CMake chose for the build tree, with its version line."""
    path = None
    try:
        with open(os.path.join(build_dir, "CMakeCache.txt"), encoding="utf-8", errors="replace") as cache:
            for line in cache:
                if line.startswith("CMAKE_CXX_COMPILER:"):
                    path = line.split("=", 1)[1].strip()
                    break
    except OSError:
        return None
    if not path:
        return None
    version = _command_output([path, "--version"])
    return {"path": path, "version": version.splitlines()[0] if version else None}


def git_commit(repo_root):
    commit = _command_output(["git", "rev-parse", "HEAD"], cwd=repo_root)
    if commit is None:
        return None
    dirty = _command_output(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo_root)
    return {"commit": commit, "dirty": bool(dirty)}


def package_version(package):
    if not package:
        return None
    return _command_output(["dpkg-query", "-W", "-f=${Version}", package]) or None


def package_owning(path):
    """The Debian package that installed a file (by its real path), or None."""
    found = _command_output(["dpkg-query", "-S", os.path.realpath(path)])
    return found.split(":", 1)[0].strip() if found else None


def _allocator_facts(allocator, served):
    """What served an allocator in the replay process: files from the probe, package and version."""
    served_by = served.get(allocator.name)
    package = allocator.package or (served_by and package_owning(served_by["malloc"]))
    return {"harness_allocator": allocator.harness_allocator, "preload": allocator.preload_path,
            "package": package, "version": package_version(package), "served_by": served_by}


def collect(repo_root, build_dir, allocators, served=None):
    """served: allocators.verify's {name: {"malloc": file, "free": file}}, recorded per allocator."""
    uname = platform.uname()
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "memory_bytes": memory_bytes(),
        "kernel": f"{uname.system} {uname.release}",
        "machine": uname.machine,
        "glibc": glibc_version(),
        "compiler": compiler(build_dir),
        "git": git_commit(repo_root),
        "python": platform.python_version(),
        "allocators": {a.name: _allocator_facts(a, served or {}) for a in allocators},
    }
