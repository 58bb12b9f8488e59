/* libFuzzer target: the input bytes are decoded into a sequence of allocator
 * operations on 64 slots, run against mem_io's API.
 *
 * Each operation takes 4 bytes: [operation, slot, size range, size]. The
 * operations: malloc, calloc, realloc, aligned allocation (three ways), free
 * or sized free, a free plus a malloc on a short-lived thread, and writing the
 * whole usable size. Sizes cover every range mem_io treats differently: tiny
 * (0-32), small size classes, medium heap blocks (up to the 128 KiB mmap
 * threshold) and mmap'd blocks above it. Every block is filled with a byte
 * pattern of its own, which is verified before each realloc and free, so a
 * block that overlaps another, loses its contents or is handed out twice is
 * caught. At the end of an input everything is freed and mem_io's live-byte
 * count must be back where it started, with no error counted. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memory.h"

enum { SLOTS = 64 };

struct slot {
    unsigned char *block;
    size_t size;      /* bytes holding the pattern: the request, or the usable size once used */
    size_t requested; /* what the allocation call asked for, as free_sized needs it */
    size_t alignment; /* for aligned_alloc'd blocks, which free_aligned_sized needs; else 0 */
    unsigned char pattern;
};

static struct slot slots[SLOTS];
static unsigned pattern_counter;

static void fail(const char *what, size_t size)
{
    fprintf(stderr, "fuzz_operations: %s (size %zu)\n", what, size);
    abort();
}

static size_t decode_size(uint8_t range, uint8_t value)
{
    switch (range % 4) {
    case 0: return value % 33;                                         /* tiny */
    case 1: return 33 + (size_t)value * 4;                            /* small classes */
    case 2: return 1025 + (size_t)value * 509;                        /* medium heap blocks */
    default: return MEM_IO_MMAP_THRESHOLD - 64 + (size_t)value * 512; /* around and above mmap */
    }
}

/* Records a new block's request and fills it with a fresh pattern. */
static void fill(struct slot *slot, size_t alignment)
{
    slot->requested = slot->size;
    slot->alignment = alignment;
    slot->pattern = (unsigned char)(pattern_counter++ % 255 + 1); /* never 0: calloc's zeroes differ */
    memset(slot->block, slot->pattern, slot->size);
}

static void verify(const struct slot *slot, size_t length)
{
    /* Word at a time: blocks reach hundreds of KiB and this runs before every free. */
    uint64_t expected = slot->pattern * UINT64_C(0x0101010101010101), word;
    size_t i = 0;
    for (; i + sizeof word <= length; i += sizeof word) {
        memcpy(&word, slot->block + i, sizeof word);
        if (word != expected)
            fail("a block's contents changed while it was live", slot->size);
    }
    for (; i < length; i++)
        if (slot->block[i] != slot->pattern)
            fail("a block's contents changed while it was live", slot->size);
}

static void check_new_block(const struct slot *slot, size_t alignment)
{
    if (!slot->block)
        fail("allocation returned NULL", slot->size);
    if ((uintptr_t)slot->block % alignment != 0)
        fail("block is not aligned", slot->size);
    if (mem_io_usable_size(slot->block) < slot->size)
        fail("usable size is below the requested size", slot->size);
}

static void release(struct slot *slot, uint8_t how)
{
    if (!slot->block)
        return;
    verify(slot, slot->size);
    if (how % 2 == 0)
        mem_io_free(slot->block);
    else if (slot->alignment)
        mem_io_free_aligned_sized(slot->block, slot->alignment, slot->requested);
    else
        mem_io_free_sized(slot->block, slot->requested);
    slot->block = NULL;
}

/* Cross-thread traffic: the block goes back to its owner from another thread,
 * and the block that thread leaves behind is freed later by this one, after
 * its owner has exited (its cached memory handed back to the allocator). */
struct handoff {
    struct slot *slot;
    size_t size;
    uint8_t how; /* which free */
};

static void *free_and_replace(void *argument)
{
    struct handoff *handoff = argument;
    release(handoff->slot, handoff->how);
    handoff->slot->size = handoff->size;
    handoff->slot->block = mem_io_malloc(handoff->size);
    check_new_block(handoff->slot, 16);
    fill(handoff->slot, 0);
    return NULL;
}

static void run_on_short_lived_thread(struct slot *slot, size_t size, uint8_t how)
{
    struct handoff handoff = {slot, size, how};
    pthread_t thread;
    if (pthread_create(&thread, NULL, free_and_replace, &handoff) != 0)
        fail("pthread_create failed", size);
    pthread_join(thread, NULL);
}

static void run_operation(const uint8_t op[4])
{
    struct slot *slot = &slots[op[1] % SLOTS];
    size_t size = decode_size(op[2], op[3]);
    switch (op[0] % 7) {
    case 0: /* malloc */
        release(slot, op[3]);
        slot->size = size;
        slot->block = mem_io_malloc(size);
        check_new_block(slot, 16);
        fill(slot, 0);
        break;
    case 1: { /* calloc, split into count x element size */
        release(slot, op[3]);
        size_t count = size ? 1 + op[3] % 8 : 0;
        size_t element = count ? size / count : 7;
        slot->size = count * element;
        slot->block = mem_io_calloc(count, element);
        check_new_block(slot, 16);
        for (size_t i = 0; i < slot->size; i++)
            if (slot->block[i] != 0)
                fail("calloc'd block is not zeroed", slot->size);
        fill(slot, 0);
        break;
    }
    case 2: { /* realloc keeps the common prefix */
        if (!slot->block)
            slot->size = 0;
        verify(slot, slot->size);
        unsigned char *moved = mem_io_realloc(slot->block, size);
        if (size == 0 && slot->block) { /* glibc semantics: frees, returns NULL */
            if (moved)
                fail("realloc(p, 0) did not free", 0);
            slot->block = NULL;
            break;
        }
        size_t kept = slot->size < size ? slot->size : size;
        slot->block = moved;
        slot->size = size;
        check_new_block(slot, 16);
        verify(slot, kept);
        fill(slot, 0);
        break;
    }
    case 3: { /* aligned allocation, three ways */
        release(slot, op[3]);
        size_t alignment = (size_t)1 << (3 + op[2] / 4 % 14); /* 8 B .. 64 KiB */
        slot->size = size;
        if (op[0] / 7 % 3 == 0) {
            void *out = NULL;
            if (mem_io_posix_memalign(&out, alignment, size) != 0)
                fail("posix_memalign failed", size);
            slot->block = out;
        } else if (op[0] / 7 % 3 == 1) {
            slot->block = mem_io_aligned_alloc(alignment, size);
        } else {
            slot->block = mem_io_memalign(alignment, size);
        }
        check_new_block(slot, alignment < 16 ? 16 : alignment);
        fill(slot, op[0] / 7 % 3 == 1 ? alignment : 0);
        break;
    }
    case 4: /* free */
        release(slot, op[3]);
        break;
    case 5: /* another thread frees the block and leaves one of its own, then exits */
        run_on_short_lived_thread(slot, size, op[3]);
        break;
    default: /* use the whole usable size, as a program may */
        if (slot->block) {
            verify(slot, slot->size);
            slot->size = mem_io_usable_size(slot->block);
            memset(slot->block, slot->pattern, slot->size);
        }
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mem_io_stats before, after;
    mem_io_get_stats(&before);
    for (size_t at = 0; at + 4 <= size; at += 4)
        run_operation(data + at);
    for (int i = 0; i < SLOTS; i++)
        release(&slots[i], 0);
    mem_io_get_stats(&after);
    if (after.live_bytes != before.live_bytes)
        fail("live bytes did not return to their starting value after freeing everything",
             after.live_bytes);
    if (after.errors != before.errors)
        fail("mem_io reported an error for valid operations", 0);
    return 0;
}
