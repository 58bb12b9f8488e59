/* Where mem_io's resident memory is at its peak, for one trace.
 *
 * Replays the trace in one thread (all trace threads in order, so one heap), twice, as the
 * harness does (a warm-up, then a measured pass), touching each block as the harness's default
 * `--touch=pages` does: one byte per 4 KiB page and the last byte, of the whole block or, where
 * the line that frees or reallocates it says TOUCHED (workloads/FORMAT.md), of that many pages
 * from its start. At the highest RSS of the second pass it counts, with mincore, the resident
 * bytes of the small pages (by where each page is: a class queue, the full list, a
 * heap's empty pages or stash, the pool), of the state bytes and of the page descriptors; the
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

/* A line's TOUCHED limits what the op that made its block writes, as in the replay's decoder
 * (harness/src/trace.cpp): that many 4 KiB pages from the block's start. */
static void limit_extents(struct op *ops, size_t count, unsigned long max_block)
{
    size_t *maker = calloc(max_block + 1, sizeof *maker);
    for (size_t i = 0; i < count; i++) {
        if (ops[i].touched >= 0)
            ops[maker[ops[i].block]].extent = (size_t)ops[i].touched * TOUCH_PAGE_SIZE;
        if (ops[i].kind != 'f' && ops[i].kind != 's')
            maker[ops[i].block] = i;
    }
    free(maker);
}

static struct op *load(const char *path, size_t *count, unsigned long *max_block)
{
    gzFile in = gzopen(path, "r");
    if (!in) {
        fprintf(stderr, "residency: cannot open %s: %s\n", path, strerror(errno));
        exit(1);
    }
    size_t cap = 1 << 16;
    struct op *ops = malloc(cap * sizeof *ops);
    char line[256];
    *count = 0;
    *max_block = 0;
    while (gzgets(in, line, sizeof line)) {
        unsigned thread;
        struct op o = {.extent = SIZE_MAX};
        int fields = sscanf(line, "%u %c %lu %lu %lu", &thread, &o.kind, &o.block, &o.a, &o.b);
        if (fields < 3)
            continue;  /* the header and comments (the trace is assumed valid: tracefile.py checks) */
        o.touched = touched_field(&o, fields);
        if (*count == cap)
            ops = realloc(ops, (cap *= 2) * sizeof *ops);
        ops[(*count)++] = o;
        if (o.block > *max_block)
            *max_block = o.block;
    }
    gzclose(in);
    limit_extents(ops, *count, *max_block);
    return ops;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: residency TRACE[.gz]\n");
        return 2;
    }
    size_t count;
    unsigned long max_block;
    struct op *ops = load(argv[1], &count, &max_block);
    size_t table_bytes = (max_block + 1) * sizeof(void *);
    void **blocks = calloc(1, table_bytes);
    for (size_t at = 0; at < table_bytes; at += 4096)
        ((volatile char *)blocks)[at] = 0;  /* paged in before the baseline */
    long baseline = rss_bytes(), peak = 0;
    size_t by_place[PAGE_IN_POOL + 1] = {0}, states_resident = 0, descs_resident = 0;

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
            states_resident = resident_bytes((uintptr_t)states, (uintptr_t)states + (pages << (PAGE_SHIFT - GRAIN_SHIFT)));
            descs_resident = resident_bytes((uintptr_t)descs, (uintptr_t)(descs + pages));
        }
        for (unsigned long b = 0; b <= max_block; b++) {
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
    printf("  state bytes %.2f MB, page descriptors %.2f MB\n", states_resident / 1e6, descs_resident / 1e6);
    printf("  the rest (medium arenas, large blocks and caches) %.2f MB\n",
           (peak - baseline - (long)(small + states_resident + descs_resident)) / 1e6);
    return 0;
}
