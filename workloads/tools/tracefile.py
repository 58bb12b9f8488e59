#!/usr/bin/python3
"""Writing and checking mem_io trace files (workloads/FORMAT.md), shared by record.py and
mtrace_import.py.

TraceBuilder turns address-level events (what a program saw: pointers) into a valid trace
(block ids): a reused address gets a new id, and whatever the source got wrong (a free of an
address never allocated, an allocation at an address that is still live) is repaired or skipped
and counted, never written as an invalid line.

Run as a program, it checks trace files the way the replayer's loader does and prints their
operation count, threads and ideal bytes (the peak of live requested bytes):
    /usr/bin/python3 -m workloads.tools.tracefile FILE.trace.gz...   (from the repository root)
"""
import collections
import gzip
import io
import sys

HEADER = "mem_io-trace 1"
MAX_THREADS = 256
MAX_SIZE = 1 << 40
MAX_ALIGNMENT = 1 << 20
PAGE_SIZE = 4096  # the unit of the optional TOUCHED field of f, s and r


class TraceError(Exception):
    """A trace file breaks a rule of FORMAT.md; the message names the file and line."""


def open_text(path, mode):
    """Opens a trace for reading or writing text, through gzip when the name ends in .gz."""
    if str(path).endswith(".gz"):
        # mtime=0 keeps committed traces byte-identical when they are regenerated
        if "w" in mode:
            return io.TextIOWrapper(gzip.GzipFile(path, mode="wb", compresslevel=6, mtime=0), encoding="ascii")
        return gzip.open(path, "rt", encoding="ascii")
    return open(path, mode + "t", encoding="ascii")


def pages_of(size):
    """How many pages a replay touches in a block of `size` bytes when the trace says nothing."""
    return -(-size // PAGE_SIZE)


def _power_of_two_at_least(value):
    return 1 << max(0, (value - 1).bit_length())


class TraceBuilder:
    """Writes a trace from events that name addresses.

    max_ops, when set, keeps the first max_ops operations: the caller stops feeding events
    once `full` is true, and finish() then frees every block still live, so that the result is
    a valid, self-contained prefix of the program's run.
    """

    def __init__(self, out, comments=(), max_ops=None):
        self.out = out
        self.max_ops = max_ops
        self.block_of_address = {}  # live address -> block id
        self.live = {}  # block id -> (bytes it counts for ideal, thread that last used it)
        self.next_id = 1
        self.live_bytes = 0
        self.ideal_bytes = 0
        self.ops = collections.Counter()  # trace op letter -> count
        self.op_count = 0
        self.threads = set()
        self.anomalies = collections.Counter()  # what had to be skipped or repaired
        self.trimmed = False
        out.write(HEADER + "\n")
        for comment in comments:  # one line each, whatever the command line held
            out.write("# " + comment.replace("\r", "\\r").replace("\n", "\\n") + "\n")

    @property
    def full(self):
        """True once max_ops operations were written: the caller stops feeding events."""
        return self.max_ops is not None and self.op_count >= self.max_ops

    def _emit(self, thread, op, block, *args):
        self.out.write(" ".join(map(str, (thread, op, block) + args)) + "\n")
        self.ops[op] += 1
        self.op_count += 1
        self.threads.add(thread)

    def _account(self, block, thread, size):
        old = self.live.get(block, (0, thread))[0]
        self.live[block] = (size, thread)
        self.live_bytes += size - old
        self.ideal_bytes = max(self.ideal_bytes, self.live_bytes)

    def _touched(self, block, resident_pages):
        """The TOUCHED field for a block of which resident_pages pages were resident when the
        program released it: empty when that was not measured or covers every page of the block
        (what a replay touches anyway)."""
        if resident_pages is None or resident_pages >= pages_of(self.live[block][0]):
            return ()
        return (resident_pages,)

    def _drop(self, block):
        self.live_bytes -= self.live.pop(block)[0]

    def _free_missed(self, address):
        """A block arrives at an address still live here: the source missed that address's free
        (done by code it could not see), so free the old block, by its last thread, to keep the
        trace valid."""
        if address in self.block_of_address:
            self.anomalies["allocation at a live address (missed free inserted)"] += 1
            self.free(self.live[self.block_of_address[address]][1], address)

    def allocate(self, thread, address, op, size, extra=0):
        """op 'm' malloc(size), 'c' calloc(extra, size), 'a' aligned_alloc(extra, size)."""
        self._free_missed(address)
        block = self.next_id
        self.next_id += 1
        self.block_of_address[address] = block
        if op == "c":
            self._emit(thread, "c", block, extra, size)
            self._account(block, thread, extra * size)
        elif op == "a":
            alignment = _power_of_two_at_least(max(1, extra))
            if alignment > MAX_ALIGNMENT:
                self.anomalies["alignment above 2^20 lowered to 2^20"] += 1
                alignment = MAX_ALIGNMENT
            self._emit(thread, "a", block, alignment, size)
            self._account(block, thread, size)
        else:
            self._emit(thread, "m", block, size)
            self._account(block, thread, size)

    def free(self, thread, address, size=None, resident_pages=None):
        """free(address), or free_sized(address, size) when size is given; resident_pages: how
        many pages of the block the program had touched, when measured."""
        block = self.block_of_address.pop(address, None)
        if block is None:
            self.anomalies["free of an address never allocated (skipped)"] += 1
            return
        touched = self._touched(block, resident_pages)
        if size is None or size != self.live[block][0]:
            self._emit(thread, "f", block, *touched)
        else:
            self._emit(thread, "s", block, size, *touched)
        self._drop(block)

    def release(self, address):
        """First half of realloc: the old address stops naming its block. Returns the block
        (None if the address was never allocated), to be passed to resize()."""
        return self.block_of_address.pop(address, None)

    def resize(self, thread, block, address, size, resident_pages=None):
        """Second half of realloc: block now lives at address with the new size; resident_pages:
        how many pages of it the program had touched before the call, when measured."""
        if block is None:
            self.anomalies["realloc of an address never allocated (written as malloc)"] += 1
            self.allocate(thread, address, "m", size)
            return
        self._free_missed(address)
        self.block_of_address[address] = block
        self._emit(thread, "r", block, size, *self._touched(block, resident_pages))
        self._account(block, thread, size)

    def restore(self, block, address):
        """A realloc failed: the block stays where it was."""
        if block is not None:
            self.block_of_address[address] = block

    def finish(self):
        """Ends the trace; a trimmed trace frees its live blocks, each by its last thread."""
        if self.full:
            self.trimmed = True
            for block in sorted(self.live):
                self._emit(self.live[block][1], "f", block)
            self.live.clear()
            self.live_bytes = 0
            return
        # blocks released by a realloc whose second half never came (lost at exit)
        addressed = set(self.block_of_address.values())
        for block in [block for block in self.live if block not in addressed]:
            self._emit(self.live[block][1], "f", block)
            self._drop(block)

    def summary(self):
        return "%d operations (%s), %d thread(s), ideal %d bytes%s" % (
            sum(self.ops.values()),
            " ".join("%s=%d" % item for item in sorted(self.ops.items())) or "none",
            len(self.threads),
            self.ideal_bytes,
            ", trimmed to a prefix" if self.trimmed else "",
        )


def read_ops(path):
    """Yields a trace's operations as (thread, op, block, size), size being the bytes the block
    holds afterwards (0 for a free), after checking each against FORMAT.md's rules.
    Raises TraceError naming the file and line of the first problem."""
    expected_args = {"m": 1, "c": 2, "a": 2, "r": 1, "f": 0, "s": 1}
    takes_touched = "rfs"  # one more, optional argument: TOUCHED
    live = {}  # block -> bytes it holds
    header_seen = False
    operations = number = 0
    try:
        with open_text(path, "r") as lines:
            for number, line in enumerate(lines, 1):
                fields = line.split("#", 1)[0].split()
                if not fields:
                    continue

                def fail(problem):
                    raise TraceError("%s:%d: %s" % (path, number, problem))

                if not header_seen:
                    if fields != HEADER.split():
                        fail("expected the header '%s', found '%s'" % (HEADER, line.strip()))
                    header_seen = True
                    continue
                if len(fields) < 3 or fields[1] not in expected_args:
                    fail("expected 'THREAD OP ID [ARGS]' with OP one of m c a r f s")
                thread_text, op, id_text = fields[:3]
                given, wanted = len(fields) - 3, expected_args[op]
                if given != wanted and not (op in takes_touched and given == wanted + 1):
                    fail("'%s' takes %d argument(s)%s, found %d"
                         % (op, wanted, " and an optional TOUCHED" if op in takes_touched else "", given))
                try:
                    thread, block = int(thread_text), int(id_text)
                    args = [int(field) for field in fields[3:]]
                except ValueError:
                    fail("fields must be decimal integers")
                if not 0 <= thread < MAX_THREADS:
                    fail("thread %d is outside 0..255" % thread)
                if not 0 <= block < 1 << 64:
                    fail("block id %d is outside 0..2^64-1" % block)
                if any(not 0 <= arg <= MAX_SIZE for arg in args):
                    fail("argument outside 0..2^40")
                if op in "mca":
                    if block in live:
                        fail("%s of block %d, which is already live" % (op, block))
                    if op == "a" and (args[0] & (args[0] - 1) or not 1 <= args[0] <= MAX_ALIGNMENT):
                        fail("alignment %d is not a power of two in 1..2^20" % args[0])
                    size = args[0] * args[1] if op == "c" else args[-1]
                    if size > MAX_SIZE:
                        fail("calloc of %d x %d bytes overflows" % tuple(args))
                    live[block] = size
                else:
                    if block not in live:
                        fail("%s of block %d, which is not live" % (op, block))
                    if op == "r" and args[0] < 1:
                        fail("realloc to size 0 (write it as 'f')")
                    if given > wanted and args[-1] > pages_of(live[block]):
                        fail("TOUCHED %d is more than the %d pages of block %d (%d bytes)"
                             % (args[-1], pages_of(live[block]), block, live[block]))
                    size = args[0] if op == "r" else 0
                    if op in "fs":
                        del live[block]
                    else:
                        live[block] = size
                operations += 1
                yield thread, op, block, size
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as error:
        raise TraceError("%s: cannot read: %s" % (path, error))
    if not header_seen:
        raise TraceError("%s: empty file, the header '%s' is missing" % (path, HEADER))
    if not operations:  # the replayer refuses a trace that measures nothing
        raise TraceError("%s:%d: no operations after the header" % (path, number))


def check(path):
    """Validates a trace file; returns (operation count, threads, ideal bytes).
    Raises TraceError naming the file and line of the first problem."""
    sizes = {}
    live_bytes = ideal = ops = 0
    threads = set()
    for thread, op, block, size in read_ops(path):
        live_bytes += size - sizes.pop(block, 0)
        if op in "mcar":
            sizes[block] = size
        ideal = max(ideal, live_bytes)
        threads.add(thread)
        ops += 1
    return ops, len(threads), ideal


def main(paths):
    if not paths:
        print("usage: python3 -m workloads.tools.tracefile FILE.trace[.gz]...", file=sys.stderr)
        return 2
    status = 0
    for path in paths:
        try:
            ops, threads, ideal = check(path)
            print("%s: ok: %d ops, %d threads, ideal %d bytes" % (path, ops, threads, ideal))
        except TraceError as error:
            print(error, file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
