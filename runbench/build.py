"""Installing missing Debian packages and building the harness with CMake (Release, its own build dir)."""
import os
import re
import subprocess
import sys
import time

from runbench import REPO_ROOT
from runbench.errors import BuildError

PACKAGE_LIST = os.path.join(REPO_ROOT, "debian-packages.txt")
HARNESS_TARGET = "mem_io_replay"
DROPIN_TARGET = "mem_io_shared"
RECORDER_TARGET = "mem_io_recorder"
BUILD_LOG_TAIL_LINES = 40
# apt-get's messages when another apt-get, dpkg or unattended-upgrades holds its locks; a fresh
# machine often runs one for minutes after boot.
APT_LOCK_MESSAGE = re.compile(r"Could not get lock|Unable to acquire the dpkg frontend lock|Unable to lock")
APT_LOCK_WAIT_S = 600
APT_LOCK_POLL_S = 5


def required_packages(path=PACKAGE_LIST):
    """The packages run_bench.py needs: the 'bench' lines of debian-packages.txt."""
    with open(path, encoding="utf-8") as listing:
        fields = [line.split("#", 1)[0].split() for line in listing]
    return tuple(words[0] for words in fields if len(words) >= 2 and words[1] == "bench")


def missing_packages(packages):
    missing = []
    for package in packages:
        proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if "install ok installed" not in proc.stdout:
            missing.append(package)
    return missing


def ensure_packages(packages=None, log=sys.stderr):
    missing = missing_packages(packages or required_packages())
    if not missing:
        return
    install = ["apt-get", "install", "-y", *missing]
    if os.geteuid() != 0:
        raise BuildError("missing Debian packages; as root, install them with:\n  " + " ".join(install))
    print(f"run_bench.py: installing missing Debian packages: {' '.join(missing)}", file=log)
    for args in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        failure = run_apt(args, log)
        if failure:
            raise BuildError(f"'{' '.join(args)}' failed: {failure}; install the packages by hand: {' '.join(install)}")


def run_apt(args, log=sys.stderr, wait_s=APT_LOCK_WAIT_S, poll_s=APT_LOCK_POLL_S):
    """Run an apt-get command, waiting up to wait_s for the lock another package manager holds
    instead of failing at once. Returns None on success, else what went wrong."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    deadline = time.monotonic() + wait_s
    announced = False
    while True:
        proc = subprocess.run(args, env=env, stderr=subprocess.PIPE, text=True)
        if proc.returncode == 0:
            return None
        if not APT_LOCK_MESSAGE.search(proc.stderr):
            log.write(proc.stderr)
            return f"exit status {proc.returncode}"
        if time.monotonic() >= deadline:
            log.write(proc.stderr)
            return f"the package manager's lock was still held after {wait_s} s"
        if not announced:
            print(f"run_bench.py: another package manager holds the dpkg/apt lock; waiting for it "
                  f"(up to {wait_s} s): {proc.stderr.strip().splitlines()[-1]}", file=log)
            announced = True
        time.sleep(poll_s)


def build(repo_root, build_dir, targets, log=sys.stderr):
    """Configure (Release) and build `targets`; the full output goes to BUILD_DIR/run_bench-build.log."""
    os.makedirs(build_dir, exist_ok=True)
    log_path = os.path.join(build_dir, "run_bench-build.log")
    steps = [
        ["cmake", "-S", repo_root, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release"],
        ["cmake", "--build", build_dir, "-j", str(os.cpu_count() or 1), "--target", *targets],
    ]
    print(f"run_bench.py: building {', '.join(targets)} in {build_dir} (log: {log_path})", file=log)
    with open(log_path, "w", encoding="utf-8") as build_log:
        for args in steps:
            build_log.write("$ " + " ".join(args) + "\n")
            build_log.flush()
            if subprocess.run(args, stdout=build_log, stderr=subprocess.STDOUT).returncode != 0:
                raise BuildError(f"build step failed: {' '.join(args)}\n{_tail(log_path)}")


def _tail(path):
    with open(path, encoding="utf-8", errors="replace") as handle:
        return "".join(handle.readlines()[-BUILD_LOG_TAIL_LINES:])
