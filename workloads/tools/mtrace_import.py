"""import-mtrace: convert a glibc mtrace() log into a mem_io trace.

    ./run_bench.py import-mtrace LOG -o FILE.trace.gz [--max-ops N] [--strict]

Make the log with glibc's debugging malloc: the program calls mtrace() (glibc 2.36 has no
activation by environment alone), and runs as
    LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libc_malloc_debug.so.0 MALLOC_TRACE=LOG ./program
mtrace logs have no thread ids (everything is thread 0) and write calloc, memalign and
posix_memalign as plain allocations, so the trace has only m, r and f operations.

A line that is not mtrace syntax is an error (file:line: what). Calls the log shows but that
cannot be replayed are skipped and counted: allocations that failed ('(nil)' results, '!' failed
reallocs), frees of addresses the log never allocated (allocated before mtrace() was called), a
'<' not followed by its '>'. --strict makes the first of these an error instead.
"""
import collections
import os
import re
import sys

from workloads.tools import tracefile

# "@ CALLER " is optional; CALLER ("./app:[0x1166]", "/lib/libc.so.6:(fn+0x1f)[0x7f..]", "[0x7f..]")
# may contain anything, so the operation is matched from the end of the line.
LINE = re.compile(r"(?:@ .*? )?(?P<op>[-+<>!]) (?P<pointer>0x[0-9a-fA-F]+|\(nil\))(?: (?P<size>0x[0-9a-fA-F]+))?")
ARGUMENTS = {"+": True, ">": True, "!": True, "-": False, "<": False}  # op -> takes a size


class MtraceError(Exception):
    pass


def convert(lines, source, builder, strict):
    """Feeds mtrace lines to a TraceBuilder; returns a Counter of skipped oddities, each with
    the line of its first occurrence."""
    skipped = collections.Counter()
    first_line = {}
    realloc_from = None  # (line number, block) after a '<', waiting for its '>'

    def skip(number, what):
        if strict:
            raise MtraceError("%s:%d: %s (--strict)" % (source, number, what))
        skipped[what] += 1
        first_line.setdefault(what, number)

    for number, raw in enumerate(lines, 1):
        if builder.full:
            break
        line = raw.rstrip("\r\n")
        if not line.strip() or line in ("= Start", "= End"):
            continue
        match = LINE.fullmatch(line)
        if not match:
            raise MtraceError("%s:%d: not an mtrace line: %r" % (source, number, line[:120]))
        op, pointer_text, size_text = match.group("op", "pointer", "size")
        if ARGUMENTS[op] != (size_text is not None):
            raise MtraceError("%s:%d: '%s' %s a size: %r" % (source, number, op, "needs" if ARGUMENTS[op] else "takes no", line[:120]))
        pointer = 0 if pointer_text == "(nil)" else int(pointer_text, 16)
        size = int(size_text, 16) if size_text else 0
        if realloc_from is not None and op != ">":
            skip(realloc_from[0], "'<' without its '>' (realloc dropped; the block stays live)")
            builder.restore(realloc_from[1], realloc_from[2])
            realloc_from = None
        if op in "+>" and pointer and size > tracefile.MAX_SIZE:
            raise MtraceError("%s:%d: size %d is above the format's 2^40 limit" % (source, number, size))
        if op == "+":
            if pointer == 0:
                skip(number, "failed allocation '(nil)' (skipped)")
            else:
                builder.allocate(0, pointer, "m", size)
        elif op == "-":
            if pointer not in builder.block_of_address:
                skip(number, "free of an address the log never allocated (skipped)")
            else:
                builder.free(0, pointer)
        elif op == "<":
            realloc_from = (number, builder.release(pointer), pointer)
        elif op == ">":
            if realloc_from is None:
                raise MtraceError("%s:%d: '>' without the '<' line before it" % (source, number))
            builder.resize(0, realloc_from[1], pointer, size)
            realloc_from = None
        elif op == "!":
            skip(number, "failed realloc '!' (skipped)")
    if realloc_from is not None:
        skip(realloc_from[0], "'<' without its '>' (realloc dropped; the block stays live)")
        builder.restore(realloc_from[1], realloc_from[2])
    return skipped, first_line


def add_arguments(parser):
    parser.add_argument("log", help="mtrace log (the MALLOC_TRACE file)")
    parser.add_argument("-o", "--output", required=True, help="trace to write (.trace.gz: gzip-compressed)")
    parser.add_argument("--max-ops", type=int, metavar="N", help="keep the first N operations, then free the blocks still live")
    parser.add_argument("--strict", action="store_true", help="fail on the first call that cannot be replayed instead of skipping it")


def run(args):
    try:
        if args.max_ops is not None and args.max_ops < 1:
            raise MtraceError("--max-ops must be at least 1")
        with open(args.log, encoding="utf-8", errors="replace") as lines:
            with tracefile.open_text(args.output, "w") as out:
                comments = ["imported from the glibc mtrace log " + os.path.basename(args.log)]
                builder = tracefile.TraceBuilder(out, comments, args.max_ops)
                skipped, first_line = convert(lines, args.log, builder, args.strict)
                builder.finish()
            if builder.op_count == 0:
                raise MtraceError("%s: no allocation calls to import (did the program call mtrace()?)" % args.log)
    except OSError as error:
        print("import-mtrace: error: cannot %s %s: %s" % ("read" if error.filename == args.log else "write", error.filename, error.strerror), file=sys.stderr)
        return 2
    except MtraceError as error:
        print("import-mtrace: error: %s" % error, file=sys.stderr)
        if os.path.isfile(args.output):
            os.remove(args.output)  # a half-written trace would only mislead
        return 2
    print("import-mtrace: %s: %s" % (args.output, builder.summary()), file=sys.stderr)
    for what, count in sorted(skipped.items()):
        print("import-mtrace:   %d x %s, first at %s:%d" % (count, what, args.log, first_line[what]), file=sys.stderr)
    for what, count in sorted(builder.anomalies.items()):
        print("import-mtrace:   %d x %s" % (count, what), file=sys.stderr)
    return 0
