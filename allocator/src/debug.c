/* The seed's debug dumps, written to stderr with write(2). mem_io_log_trace: heap bounds and
 * counters. mem_io_stack_trace: every live block of every page, extent and mapping, with each
 * run of free blocks between them on one line; mem_io_stack_trace_full lists the free blocks
 * one by one too. Both read other threads' structures without stopping them: a dump taken
 * while threads allocate is a best-effort snapshot (counters are read atomically, never torn;
 * a small block is free or live as its mark says at the moment it is read). */
#include "internal.h"

static void dump_flags(struct out_buf *out, uint32_t flags)
{
    static const struct { uint32_t bit; const char *name; } names[] = {
        {MEM_IO_FLAG_FREE, "FREE"}, {MEM_IO_FLAG_USED, "USED"},
        {MEM_IO_FLAG_CORRUPTED, "CORRUPTED"}, {MEM_IO_FLAG_MMAP, "MMAP"},
        {FLAG_CACHED, "CACHED"},
    };
    const char *sep = "";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (flags & names[i].bit) {
            out_str(out, sep);
            out_str(out, names[i].name);
            sep = "|";
        }
    if (!*sep)
        out_str(out, "NONE");
}

static void dump_block(struct out_buf *out, const void *user, size_t size, uint32_t flags,
                       const struct mem_io_block *header)
{
    out_label_hex(out, "mem_io:   block ", (uintptr_t)user);
    out_label_dec(out, " size=", size);
    out_str(out, " flags=");
    dump_flags(out, flags);
    out_str(out, " magic=");
    if (header) {
        out_hex(out, header->magic);
        out_str(out, sealed(header) ? " (valid)" : " (INVALID)");
    } else {
        out_str(out, "none (small block: free mark)");
    }
    out_str(out, "\n");
}

void mem_io_log_trace(void)
{
    ensure_init();
    struct mem_io_stats s;
    stats_fold(&s);
    struct out_buf out = {.fd = 2};
    uintptr_t heap_start = 0, heap_end = 0;
    size_t extents = 0, heap_bytes = 0;
    for (unsigned i = 0; i < ARENA_COUNT; i++) {
        struct arena *a = &arenas[i];
        pthread_mutex_lock(arena_lock(a));
        if (i == 0) {  /* the sbrk heap */
            heap_start = a->heap_start;
            heap_end = a->top ? a->extents[a->top_index].raw_end : heap_start;
        }
        extents += a->extent_count;
        heap_bytes += a->heap_bytes;
        pthread_mutex_unlock(arena_lock(a));
    }
    size_t pages = pool_pages_carved();
    pthread_mutex_lock(&large.lock);
    size_t mappings = large.live;
    pthread_mutex_unlock(&large.lock);
    out_str(&out, "mem_io: log trace\n");
    out_label_hex(&out, "mem_io: heap start=", heap_start);
    out_label_hex(&out, " end=", heap_end);
    out_label_dec(&out, " (sbrk/arena extents=", extents);
    out_label_dec(&out, ", bytes=", heap_bytes);
    out_label_hex(&out, ")\nmem_io: small pages start=", LOAD(small_base));
    out_label_hex(&out, " end=", LOAD(small_base) + pages * PAGE_SIZE);
    out_label_dec(&out, " (pages handed to heaps=", pages);
    out_label_dec(&out, ")\nmem_io: mmap blocks=", mappings);
    out_label_dec(&out, "\nmem_io: allocations: malloc=", s.malloc_calls);
    out_label_dec(&out, " calloc=", s.calloc_calls);
    out_label_dec(&out, " realloc=", s.realloc_calls);
    out_label_dec(&out, " aligned=", s.aligned_calls);
    out_label_dec(&out, " free=", s.free_calls);
    out_label_dec(&out, "\nmem_io: live bytes=", s.live_bytes);
    out_label_dec(&out, " peak=", s.peak_live_bytes);
    out_label_dec(&out, " os bytes=", s.os_bytes);
    out_label_dec(&out, " peak=", s.peak_os_bytes);
    out_label_dec(&out, "\nmem_io: errors=", s.errors);
    out_str(&out, "\n");
    out_flush(&out);
}

/* Consecutive free blocks, printed as one line unless the dump is full. Addresses are the
 * ones a block line shows (the pointer malloc returned), so end = start + bytes. */
struct free_run {
    uintptr_t start;
    size_t blocks, bytes;
};

static void flush_free_run(struct out_buf *out, struct free_run *run)
{
    if (!run->blocks)
        return;
    out_label_hex(out, "mem_io:   free run ", run->start);
    out_label_hex(out, "-", run->start + run->bytes);
    out_label_dec(out, " blocks=", run->blocks);
    out_label_dec(out, " bytes=", run->bytes);
    out_str(out, "\n");
    run->blocks = run->bytes = 0;
}

/* One block of the walk: a line of its own when it is live (or the dump is full), else a part
 * of the current free run. */
static void visit_block(struct out_buf *out, struct free_run *run, bool full, const void *user,
                        size_t size, uint32_t flags, const struct mem_io_block *header)
{
    bool is_free = (flags & (MEM_IO_FLAG_FREE | FLAG_CACHED)) || !(flags & MEM_IO_FLAG_USED);
    if (is_free && !full) {
        if (!run->blocks)
            run->start = (uintptr_t)user;
        run->blocks++;
        run->bytes += size;
        return;
    }
    flush_free_run(out, run);
    dump_block(out, user, size, flags, header);
}

static void dump_small_pages(struct out_buf *out, bool full)
{
    size_t pages = pool_pages_carved();
    for (size_t i = 0; i < pages; i++) {
        struct page *pg = &descs[i];
        struct heap *owner = atomic_load_explicit(&pg->heap, relaxed);
        uint32_t capacity = LOAD(pg->capacity), size = LOAD(pg->block_size);
        if (!owner || !capacity)
            continue;
        out_label_hex(out, "mem_io: small page ", page_start(pg));
        out_label_hex(out, " heap=", (uintptr_t)owner);
        out_label_dec(out, " block size=", size);
        out_label_dec(out, " blocks carved=", capacity);
        out_str(out, "\n");
        struct free_run run = {0};
        for (uint32_t b = 0; b < capacity; b++) {
            uintptr_t block = page_start(pg) + (uintptr_t)b * size;
            uint32_t flags = block_marked_free((void *)block) ? MEM_IO_FLAG_FREE : MEM_IO_FLAG_USED;
            visit_block(out, &run, full, (void *)block, size, flags, NULL);
        }
        flush_free_run(out, &run);
    }
}

static void dump_arena(struct out_buf *out, unsigned index, bool full)
{
    static const char *const source_names[] = {
        [EXTENT_SBRK] = "sbrk", [EXTENT_MMAP] = "mmap", [EXTENT_SLICE] = "slice"};
    struct arena *a = &arenas[index];
    pthread_mutex_lock(arena_lock(a));
    for (size_t i = 0; i < a->extent_count; i++) {
        const struct extent *e = &a->extents[i];
        out_label_hex(out, "mem_io: arena extent ", e->start);
        out_label_hex(out, "-", e->end);
        out_label_dec(out, " (arena ", index);
        out_str(out, ", ");
        out_str(out, source_names[e->source]);
        out_str(out, ")\n");
        struct free_run run = {0};
        uintptr_t walk = e->start;
        while (walk + HEADER_SIZE <= e->end) {
            const struct mem_io_block *b = (const struct mem_io_block *)walk;
            bool corrupted = !sealed(b) || b->size < MEDIUM_MIN_BLOCK;
            if (corrupted)
                flush_free_run(out, &run);
            visit_block(out, &run, full || corrupted, b + 1, b->size, HLOAD(b->flags), b);
            if (corrupted) {
                out_str(out, "mem_io:   (walk stops: corrupted header)\n");
                break;
            }
            walk += b->size;
        }
        flush_free_run(out, &run);
    }
    pthread_mutex_unlock(arena_lock(a));
}

static void dump_large(struct out_buf *out)
{
    pthread_mutex_lock(&large.lock);
    for (size_t i = 0; i < large.capacity; i++) {
        if (large.slots[i].state != SLOT_LIVE)
            continue;
        const struct mem_io_block *h = (const struct mem_io_block *)(large.slots[i].user - HEADER_SIZE);
        out_str(out, "mem_io: mmap block\n");
        dump_block(out, h + 1, h->size, h->flags, h);
    }
    pthread_mutex_unlock(&large.lock);
}

static void stack_trace(bool full)
{
    ensure_init();
    struct out_buf out = {.fd = 2};
    out_str(&out, full ? "mem_io: stack trace (every block)\n"
                       : "mem_io: stack trace (live blocks, one line per run of free blocks)\n");
    dump_small_pages(&out, full);
    for (unsigned i = 0; i < ARENA_COUNT; i++)
        dump_arena(&out, i, full);
    dump_large(&out);
    out_str(&out, "mem_io: end of stack trace\n");
    out_flush(&out);
}

void mem_io_stack_trace(void)
{
    stack_trace(false);
}

void mem_io_stack_trace_full(void)
{
    stack_trace(true);
}
