#!/usr/bin/python3
"""Runs one secure-mode case program and says how it ended.

  run_case.py [--library LIB.so] [--env NAME=VALUE ...] (--expect caught|runs) PROGRAM
  run_case.py [--library LIB.so] [--env NAME=VALUE ...] --classify PROGRAM...

The program runs under LD_PRELOAD=LIB.so (without --library: on the C library's malloc) with
the given environment. It is `caught` when it
died of SIGABRT after a line of the allocator's on stderr (mem_io's begin with "mem_io: "; any
other allocator's line counts for --classify), `crashed` when another signal stopped it, `runs`
when it exited 0, and `failed` otherwise. With --expect the exit status says whether the
outcome was the expected one (0) or not (1); --classify prints one line per program.
"""
import argparse
import os
import signal
import subprocess
import sys

TIMEOUT_S = 60


def run(program, library, env_pairs):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if library:
        env["LD_PRELOAD"] = library
    env.pop("MEM_IO_ON_ERROR", None)
    for pair in env_pairs:
        name, _, value = pair.partition("=")
        env[name] = value
    proc = subprocess.run([program], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, errors="replace", timeout=TIMEOUT_S)
    return proc.returncode, proc.stdout, proc.stderr


def outcome(returncode, stderr, own_line_only):
    if returncode == 0:
        return "runs"
    if returncode == -signal.SIGABRT:
        lines = [line for line in stderr.splitlines() if line.strip()]
        ours = [line for line in lines if line.startswith("mem_io: ")]
        if ours or (lines and not own_line_only):
            return "caught"
        return "crashed"
    if returncode < 0:
        return "crashed"
    return "failed"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--library", help="shared library to preload (default: none)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--expect", choices=["caught", "runs"])
    mode.add_argument("--classify", action="store_true")
    parser.add_argument("programs", nargs="+")
    args = parser.parse_args(argv)
    if args.expect and len(args.programs) != 1:
        parser.error("--expect takes one program")
    for pair in args.env:
        if "=" not in pair:
            parser.error(f"--env wants NAME=VALUE, not {pair!r}")
    if args.library and not os.path.exists(args.library):
        parser.error(f"no such library: {args.library}")
    return args


def main(argv):
    args = parse_args(argv)
    for program in args.programs:
        returncode, stdout, stderr = run(program, args.library, args.env)
        got = outcome(returncode, stderr, own_line_only=bool(args.expect))
        if args.classify:
            print(f"{os.path.basename(program)} {got}")
            continue
        sys.stdout.write(stdout)
        sys.stdout.write(stderr)
        print(f"{os.path.basename(program)}: {got} (exit status {returncode}), expected {args.expect}")
        return 0 if got == args.expect else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
