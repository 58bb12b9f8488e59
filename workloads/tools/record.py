"""record: run a program under the mem_io recorder and write its allocation trace.

    ./run_bench.py record -o FILE.trace.gz [--max-ops N] [--children] -- PROGRAM ARGS...

The program runs unmodified on glibc's malloc with libmem_io_recorder.so preloaded (CMake target
mem_io_recorder, built in --build-dir first, as the suite builds its harness; with --no-build the
library already built in --build-dir, else in build/bench, build/release or the newest build/*). The trace of the process it starts
goes to FILE; if that process exec'd another program, the last program it ran is the one
written. Forked children and the images they exec'd are recorded too and written, with
--children, as STEM.<pid>.trace.gz (STEM.<pid>.<n>.trace.gz for the n-th exec'd image of a pid).
See workloads/recorder/README.md.
"""
import argparse
import glob
import heapq
import os
import re
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile

from runbench import REPO_ROOT
from workloads.tools import tracefile

LIBRARY_NAME = "libmem_io_recorder.so"
LIBRARY_IN_BUILD = os.path.join("workloads", "recorder", LIBRARY_NAME)
PREFIX_VARIABLE = "MEM_IO_RECORD_PREFIX"
# environment variables that change which allocation calls a program makes, noted in the trace
ALLOCATION_SETTINGS = ("PYTHONMALLOC", "PYTHONHASHSEED", "GLIBC_TUNABLES", "MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")

# workloads/recorder/raw_format.h
FILE_HEADER = struct.Struct("<QII")
FILE_MAGIC, RAW_VERSION = 0x31574152494F4D4D, 2
CHUNK_HEADER = struct.Struct("<IIII")
CHUNK_MAGIC, EXIT_MAGIC = 0x4B4E4843, 0x54495845
EVENT = struct.Struct("<QQQQII")
MALLOC, CALLOC, ALIGNED, FREE, FREE_SIZED, REALLOC_RELEASE, REALLOC_TAKE = range(1, 8)
FLAG_RESIDENT = 1  # extra: resident pages of the block released


class RecordError(Exception):
    pass


class RawImage:
    """The raw recording of one process image: per-thread event chunks, read from one file."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as raw:
            data = raw.read()
        if len(data) < FILE_HEADER.size:
            raise RecordError("%s: truncated raw file (no header)" % path)
        magic, version, self.pid = FILE_HEADER.unpack_from(data)
        if magic != FILE_MAGIC or version != RAW_VERSION:
            raise RecordError("%s: not a mem_io recorder file of version %d" % (path, RAW_VERSION))
        self.chunks = {}  # thread -> list of memoryviews of packed events, in order
        self.exited = False
        view = memoryview(data)
        offset = FILE_HEADER.size
        while offset + CHUNK_HEADER.size <= len(data):
            magic, thread, count, _ = CHUNK_HEADER.unpack_from(data, offset)
            offset += CHUNK_HEADER.size
            if magic == EXIT_MAGIC:
                self.exited = True
                continue
            end = offset + count * EVENT.size
            if magic != CHUNK_MAGIC or end > len(data):
                raise RecordError("%s: corrupt chunk at byte %d" % (path, offset - CHUNK_HEADER.size))
            self.chunks.setdefault(thread, []).append(view[offset:end])
            offset = end
        if offset != len(data):
            raise RecordError("%s: %d stray bytes at the end" % (path, len(data) - offset))

    def thread_events(self, thread):
        for chunk in self.chunks[thread]:
            for sequence, address, size, extra, op, flags in EVENT.iter_unpack(chunk):
                yield sequence, thread, op, address, size, extra, flags

    def events(self):
        """Every event of the image in global sequence order:
        (sequence, thread, op, address, size, extra, flags)."""
        return heapq.merge(*(self.thread_events(thread) for thread in self.chunks))

    def thread_slots(self):
        """Maps recorded threads to trace threads 0..255. A thread that started after another
        ended reuses its index, so programs that run many short-lived threads still fit."""
        spans = []
        for thread, chunks in self.chunks.items():
            first = EVENT.unpack_from(chunks[0])[0]
            last = EVENT.unpack_from(chunks[-1], len(chunks[-1]) - EVENT.size)[0]
            spans.append((first, last, thread))
        spans.sort()
        ending = []  # heap of (last sequence, slot) of threads holding a slot
        free_slots = []
        next_slot = 0
        slots = {}
        for first, last, thread in spans:
            while ending and ending[0][0] < first:
                heapq.heappush(free_slots, heapq.heappop(ending)[1])
            if free_slots:
                slot = heapq.heappop(free_slots)
            else:
                slot = next_slot % tracefile.MAX_THREADS  # > 256 threads at once share indices
                next_slot += 1
            slots[thread] = slot
            heapq.heappush(ending, (last, slot))
        return slots


def convert(image, output, comments, max_ops):
    """Writes one raw image as a trace; returns the TraceBuilder with its counts."""
    slots = image.thread_slots()
    with tracefile.open_text(output, "w") as out:
        builder = tracefile.TraceBuilder(out, comments, max_ops)
        pending_realloc = {}  # thread -> block released by its realloc in flight
        for _, thread, op, address, size, extra, flags in image.events():
            resident = extra if flags & FLAG_RESIDENT else None  # pages of a released block
            if builder.full:
                break
            slot = slots[thread]
            if op == MALLOC:
                builder.allocate(slot, address, "m", size)
            elif op == CALLOC:
                builder.allocate(slot, address, "c", size, extra)
            elif op == ALIGNED:
                builder.allocate(slot, address, "a", size, extra)
            elif op == FREE:
                builder.free(slot, address, resident_pages=resident)
            elif op == FREE_SIZED:
                builder.free(slot, address, size, resident)
            elif op == REALLOC_RELEASE:
                pending_realloc[thread] = (builder.release(address), resident)
            elif op == REALLOC_TAKE:
                block, resident = pending_realloc.pop(thread, (None, None))
                if extra:
                    builder.restore(block, address)
                else:
                    builder.resize(slot, block, address, size, resident)
            else:
                raise RecordError("%s: unknown event type %d" % (image.path, op))
        builder.finish()
    return builder


def find_library(args):
    if args.library:
        if not os.path.isfile(args.library):
            raise RecordError("recorder library %s does not exist" % args.library)
        return os.path.abspath(args.library)
    if args.build_dir:
        candidates = [os.path.join(args.build_dir, LIBRARY_IN_BUILD)]
    else:
        # the benchmark and release builds first, then any other build, newest first
        preferred = [os.path.join(REPO_ROOT, "build", name, LIBRARY_IN_BUILD) for name in ("bench", "release")]
        others = sorted(glob.glob(os.path.join(REPO_ROOT, "build", "*", LIBRARY_IN_BUILD)), key=os.path.getmtime, reverse=True)
        candidates = preferred + others
    for candidate in candidates:
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    build_dir = args.build_dir or os.path.join(REPO_ROOT, "build", "release")
    raise RecordError(
        "%s not found (looked in %s); build it first (run record without --no-build), or by hand:\n"
        "  cmake -S %s -B %s -DCMAKE_BUILD_TYPE=Release && cmake --build %s --target mem_io_recorder"
        % (LIBRARY_NAME, ", ".join(os.path.dirname(c) for c in candidates[:3]), REPO_ROOT, build_dir, build_dir)
    )


def check_output_writable(path):
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise RecordError("cannot write %s: directory %s does not exist" % (path, directory))
    if os.path.isdir(path):
        raise RecordError("cannot write %s: it is a directory" % path)
    if not os.access(directory, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise RecordError("cannot write %s: permission denied" % path)


def trace_stem(output):
    for suffix in (".trace.gz", ".trace", ".gz"):
        if output.endswith(suffix):
            return output[: -len(suffix)], suffix
    return output, ".trace.gz"


def image_files(raw_directory):
    """Raw files as {pid: [paths in exec order]}; names are raw.<pid> and raw.<pid>.<n>."""
    images = {}
    for name in os.listdir(raw_directory):
        match = re.fullmatch(r"raw\.(\d+)(?:\.(\d+))?", name)
        if match:
            images.setdefault(int(match.group(1)), []).append((int(match.group(2) or 0), os.path.join(raw_directory, name)))
    return {pid: [path for _, path in sorted(paths)] for pid, paths in images.items()}


def add_arguments(parser):
    parser.add_argument("-o", "--output", required=True, help="trace to write (.trace.gz: gzip-compressed)")
    parser.add_argument("--max-ops", type=int, metavar="N", help="keep the first N operations, then free the blocks still live")
    parser.add_argument("--children", action="store_true", help="also write traces of forked children and exec'd images (STEM.<pid>.trace.gz)")
    parser.add_argument("--library", help="path to %s to use instead of building or finding one" % LIBRARY_NAME)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- PROGRAM ARGS...")


def run(args):
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        if not command:
            raise RecordError("no program given; usage: record -o FILE.trace.gz -- PROGRAM ARGS...")
        if args.max_ops is not None and args.max_ops < 1:
            raise RecordError("--max-ops must be at least 1")
        if shutil.which(command[0]) is None:
            raise RecordError("program %r not found%s" % (command[0], "" if "/" in command[0] else " in PATH"))
        check_output_writable(args.output)
        library = find_library(args)
        with tempfile.TemporaryDirectory(prefix="mem_io_record.") as raw_directory:
            env = dict(os.environ)
            env["LD_PRELOAD"] = " ".join(filter(None, [library, env.get("LD_PRELOAD")]))
            env[PREFIX_VARIABLE] = os.path.join(raw_directory, "raw")
            process = subprocess.Popen(command, env=env)
            try:
                status = process.wait()
            except KeyboardInterrupt:  # Ctrl-C reached the program too: keep what it recorded
                print("record: interrupted; waiting for %s to end, then writing its trace" % command[0], file=sys.stderr)
                status = process.wait()
            if status:
                print("record: %s exited with status %d; writing its trace anyway" % (command[0], status), file=sys.stderr)
            images = image_files(raw_directory)
            if process.pid not in images:
                raise RecordError(
                    "nothing was recorded from %s: a statically linked or setuid program ignores LD_PRELOAD" % command[0]
                )
            write_traces(images, process.pid, args, command)
            return status if status >= 0 else 128 - status  # the program's own status, as a shell reports it
    except (RecordError, tracefile.TraceError, OSError) as error:
        print("record: error: %s" % error, file=sys.stderr)
        return 2


def write_traces(images, root_pid, args, command):
    """Writes the main trace (the root process's last image) and, with --children, the others."""
    comments = ["recorded by mem_io's recorder: " + " ".join(shlex.quote(word) for word in command)]
    settings = ["%s=%s" % (name, os.environ[name]) for name in ALLOCATION_SETTINGS if name in os.environ]
    if settings:
        comments.append("with " + " ".join(settings))
    stem, suffix = trace_stem(args.output)
    outputs = []
    for pid, paths in sorted(images.items()):
        for index, path in enumerate(paths):
            if pid == root_pid and index == len(paths) - 1:
                outputs.insert(0, (path, args.output))
            elif args.children:
                outputs.append((path, "%s.%d%s%s" % (stem, pid, ".%d" % index if index else "", suffix)))
    for path, output in outputs:
        image = RawImage(path)
        builder = convert(image, output, comments, args.max_ops)
        if builder.op_count == 0:  # the replayer refuses empty traces, and they measure nothing
            os.remove(output)
            if output == args.output:
                raise RecordError("%s made no allocation calls that the recorder saw; no trace written" % command[0])
            print("record: %s: no allocation calls; not written" % output, file=sys.stderr)
            continue
        print("record: %s: %s" % (output, builder.summary()), file=sys.stderr)
        for anomaly, count in sorted(builder.anomalies.items()):
            print("record:   %d x %s" % (count, anomaly), file=sys.stderr)
        if not image.exited:
            print("record:   this process did not finish through exit() (it exec'd, called _exit or was killed): "
                  "the events it still buffered are missing", file=sys.stderr)
    skipped = sum(len(paths) for paths in images.values()) - len(outputs)
    if skipped:
        print("record: %d other process image(s) were recorded (forked children, exec'd programs); "
              "--children writes them too" % skipped, file=sys.stderr)
