/* Where mem_io's resident memory is at its peak, for one trace.
 *
 * Replays the trace in one thread (all trace threads in order, so one heap), twice, as the
 * harness does (a warm-up, then a measured pass), touching each block as the harness's default
 * `--touch=pages` does: one byte per 4 KiB page and the last byte, of the whole block or, where
 * the line that frees or reallocates it says TOUCHED (workloads/FORMAT.md), of that many pages
 * from its start. At the highest RSS of the second pass it counts, with mincore, the resident
 * bytes of the small pages (by where each page is: a class queue, the full list, a
 * heap's empty pages or stash, the pool) and of the page descriptors; the
 * rest of the growth over the RSS before the first pass is the medium arenas and large blocks.
 * It includes memory.c to read the allocator's own tables.
 *
 *     build/release/harness/footprint/mem_io_residency workloads/real/sqlite3_insert_query.trace.gz
 * (or: gcc -O2 -I allocator -o residency harness/footprint/residency.c -pthread -lz)
 */
#include "memory.c"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* touched: the line's TOUCHED, or -1 without one; extent: the bytes from its start that the
 * program touched of the block this op returns (SIZE_MAX: all of it). */
struct op { char kind; unsigned long block, a, b; long touched; size_t extent; };

#define TOUCH_PAGE_SIZE 4096  /* the unit of TOUCHED */

static size_t resident_bytes(uintptr_t lo, uintptr_t hi)
{
    static unsigned char pages[1 << 12];
    lo &= ~(uintptr_t)4095;
    size_t total = 0;
    for (; lo < hi; lo += sizeof pages * 4096) {
        size_t n = (hi - lo + 4095) / 4096;
        if (n > sizeof pages)
            n = sizeof pages;
        if (mincore((void *)lo, n * 4096, pages) != 0)
            return 0;
        for (size_t i = 0; i < n; i++)
            total += (pages[i] & 1) * 4096;
    }
    return total;
}

static long rss_bytes(void)
{
    long size = 0, resident = 0;
    FILE *statm = fopen("/proc/self/statm", "r");
    if (!statm || fscanf(statm, "%ld %ld", &size, &resident) != 2)
        exit(1);
    fclose(statm);
    return resident * 4096;
}

/* The TOUCHED that may end r, f and s lines, after their arguments (SIZE for r and s), given
 * how many fields sscanf read into thread, kind, block, a and b; -1 when the line has none. */
static long touched_field(const struct op *o, int fields)
{
    if (o->kind == 'f')
        return fields == 4 ? (long)o->a : -1;
    return (o->kind == 'r' || o->kind == 's') && fields == 5 ? (long)o->b : -1;
}

static void fail(const char *path, unsigned long line, const char *why)
{
    fprintf(stderr, "residency: %s:%lu: %s\n", path, line, why);
    exit(1);
}

static void *allocate_or_exit(void *p, size_t bytes)
{
    if (!p && bytes) {
        fprintf(stderr, "residency: out of memory for %zu bytes of the trace's tables\n", bytes);
        exit(1);
    }
    return p;
}

/* The fields a line of each op has after THREAD OP ID (workloads/FORMAT.md): the fewest, and the
 * most with TOUCHED. This tool trusts the rest of the format's rules to the replay's loader
 * (`mem_io_replay --check`): a free of a block that is not live frees NULL here, harmlessly. */
static void check_op(const char *path, unsigned long line, const struct op *o, int fields)
{
    const char *at = strchr("mcarfs", o->kind);
    static const int least[] = {4, 5, 5, 4, 3, 4}, most[] = {4, 5, 5, 5, 4, 5};
    if (!at || !o->kind)
        fail(path, line, "unknown op (expected one of m c a r f s)");
    if (fields < least[at - "mcarfs"] || fields > most[at - "mcarfs"])
        fail(path, line, "wrong number of fields for this op (workloads/FORMAT.md)");
    if (o->kind == 'c' && o->b && o->a > SIZE_MAX / o->b)
        fail(path, line, "calloc's COUNT x SIZE overflows");
}

/* A line's TOUCHED limits what the op that made its block writes, as in the replay's decoder
 * (harness/src/trace.cpp): that many 4 KiB pages from the block's start. */
static void limit_extents(struct op *ops, size_t count, unsigned long blocks)
{
    size_t *maker = allocate_or_exit(calloc(blocks, sizeof *maker), blocks * sizeof *maker);
    for (size_t i = 0; i < count; i++) {
        if (ops[i].touched >= 0)
            ops[maker[ops[i].block]].extent = (size_t)ops[i].touched * TOUCH_PAGE_SIZE;
        if (ops[i].kind != 'f' && ops[i].kind != 's')
            maker[ops[i].block] = i;
    }
    free(maker);
}

static int by_id(const void *a, const void *b)
{
    unsigned long x = **(const unsigned long *const *)a, y = **(const unsigned long *const *)b;
    return (x > y) - (x < y);
}

/* Block ids may be any 64-bit numbers: number them 0, 1, 2… (the same id, the same number) so
 * that the table of live blocks is as long as the trace has distinct ids. Returns how many. */
static unsigned long number_blocks(struct op *ops, size_t count)
{
    unsigned long **ids = allocate_or_exit(malloc(count * sizeof *ids), count * sizeof *ids);
    for (size_t i = 0; i < count; i++)
        ids[i] = &ops[i].block;
    qsort(ids, count, sizeof *ids, by_id);
    unsigned long distinct = 0, previous = 0;
    for (size_t i = 0; i < count; i++) {
        unsigned long id = *ids[i];
        if (i == 0 || id != previous)
            distinct++;
        previous = id;
        *ids[i] = distinct - 1;
    }
    free(ids);
    return distinct;
}
/* The trace's ops, its block ids numbered densely; a bad line exits with its place and why. */
static struct op *load(const char *path, size_t *count, unsigned long *blocks)
{
    gzFile in = gzopen(path, "r");
    if (!in) {
        fprintf(stderr, "residency: cannot open %s: %s\n", path, strerror(errno));
        exit(1);
    }
    size_t cap = 1 << 16;
    struct op *ops = allocate_or_exit(malloc(cap * sizeof *ops), cap * sizeof *ops);
    char line[256];
    unsigned long number = 0;
    int header_seen = 0;
    *count = 0;
    while (gzgets(in, line, sizeof line)) {
        number++;
        if (!strchr(line, '\n') && !gzeof(in))
            fail(path, number, "line longer than 255 characters");
        char *comment = strchr(line, '#');
        if (comment)
            *comment = '\0';
        if (strspn(line, " \t\r\n") == strlen(line))
            continue;
        if (!header_seen) {
            if (strncmp(line, "mem_io-trace ", 13) != 0)
                fail(path, number, "not a mem_io trace (the first line must be 'mem_io-trace VERSION')");
            header_seen = 1;
            continue;
        }
        unsigned thread;
        char extra;
        struct op o = {.extent = SIZE_MAX};
        int fields = sscanf(line, "%u %c %lu %lu %lu %c", &thread, &o.kind, &o.block, &o.a, &o.b, &extra);
        if (fields < 3)
            fail(path, number, "expected THREAD OP ID [ARGS...]");
        check_op(path, number, &o, fields);
        o.touched = touched_field(&o, fields);
        if (*count == cap) {
            cap *= 2;
            ops = allocate_or_exit(realloc(ops, cap * sizeof *ops), cap * sizeof *ops);
        }
        ops[(*count)++] = o;
    }
    gzclose(in);
    if (!header_seen) {
        fprintf(stderr, "residency: %s: no 'mem_io-trace VERSION' header: empty, or not a trace\n", path);
        exit(1);
    }
    *blocks = number_blocks(ops, *count);
    limit_extents(ops, *count, *blocks);
    return ops;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: residency TRACE[.gz]\n");
        return 2;
    }
    size_t count;
    unsigned long block_count;
    struct op *ops = load(argv[1], &count, &block_count);
    size_t table_bytes = block_count * sizeof(void *);
    void **blocks = allocate_or_exit(calloc(1, table_bytes), table_bytes);
    for (size_t at = 0; at < table_bytes; at += 4096)
        ((volatile char *)blocks)[at] = 0;  /* paged in before the baseline */
    long baseline = rss_bytes(), peak = 0;
    size_t by_place[PAGE_IN_POOL + 1] = {0}, descs_resident = 0;

    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < count; i++) {
            struct op *o = &ops[i];
            size_t size = 0;
            void *p = NULL;
            switch (o->kind) {
            case 'm': size = o->a; p = mem_io_malloc(size); break;
            case 'c': size = o->a * o->b; p = mem_io_calloc(o->a, o->b); break;
            case 'a': size = o->b; p = mem_io_aligned_alloc(o->a, size); break;
            case 'r': size = o->a; p = mem_io_realloc(blocks[o->block], size); break;
            default: mem_io_free(blocks[o->block]); blocks[o->block] = NULL; continue;
            }
            if (!p && size) {
                fprintf(stderr, "residency: %s: mem_io could not allocate %zu bytes (operation %zu)\n",
                        argv[1], size, i + 1);
                return 1;
            }
            blocks[o->block] = p;
            size_t touched = size < o->extent ? size : o->extent;
            for (size_t at = 0; at < touched; at += TOUCH_PAGE_SIZE)
                ((volatile char *)p)[at] = 1;
            if (touched)
                ((volatile char *)p)[touched - 1] = 1;
            long rss;
            if (pass == 0 || i % 64 != 0 || (rss = rss_bytes()) <= peak)
                continue;
            peak = rss;
            uintptr_t base = LOAD(small_base);
            size_t pages = pool.bumped;
            memset(by_place, 0, sizeof by_place);
            for (size_t n = 0; n < pages; n++)
                by_place[descs[n].place] += resident_bytes(base + (n << PAGE_SHIFT), base + ((n + 1) << PAGE_SHIFT));
            descs_resident = resident_bytes((uintptr_t)descs, (uintptr_t)(descs + pages));
        }
        for (unsigned long b = 0; b < block_count; b++) {
            mem_io_free(blocks[b]);
            blocks[b] = NULL;
        }
    }
    size_t small = 0;
    for (int place = 0; place <= PAGE_IN_POOL; place++)
        small += by_place[place];
    printf("peak RSS over the baseline: %.2f MB\n", (peak - baseline) / 1e6);
    printf("  small pages %.2f MB: class queues %.2f, full %.2f, heap's empty pages %.2f, stash %.2f, pool %.2f\n",
           small / 1e6, by_place[PAGE_IN_QUEUE] / 1e6, by_place[PAGE_IN_FULL] / 1e6, by_place[PAGE_IN_EMPTY] / 1e6,
           by_place[PAGE_IN_STASH] / 1e6, by_place[PAGE_IN_POOL] / 1e6);
    printf("  page descriptors %.2f MB\n", descs_resident / 1e6);
    printf("  the rest (medium arenas, large blocks and caches) %.2f MB\n",
           (peak - baseline - (long)(small + descs_resident)) / 1e6);
    return 0;
}
