/* alloc-test-like: many live objects of mixed sizes. Each thread keeps
 * 50000 blocks alive (80 % of 8-64 B, 15 % up to 1 KiB, 5 % up to 16 KiB),
 * replaces random ones and fills every new block, so the allocator's
 * metadata, size-class spread and locality under a large heap all count. */
#include "stress_common.h"

enum { LIVE = 50000 };

static size_t pick_size(struct stress_rng *rng)
{
    uint64_t r = stress_next(rng) % 100;
    if (r < 80) return stress_between(rng, 8, 64);
    if (r < 95) return stress_between(rng, 65, 1024);
    return stress_between(rng, 1025, 16384);
}

static void *fill(size_t size, uint64_t tag)
{
    unsigned char *block = stress_malloc_or_die(size);
    memset(block, (int)(tag & 0xff), size);
    stress_tag(block, size, tag);
    return block;
}

static void worker(int index, void *shared)
{
    struct stress_steps *run = shared;
    struct stress_rng rng = stress_rng_seed(0xa110c, (uint64_t)index);
    void **blocks = stress_malloc_or_die(sizeof *blocks * LIVE);
    size_t *sizes = stress_malloc_or_die(sizeof *sizes * LIVE);
    for (int i = 0; i < LIVE; i++) {
        sizes[i] = pick_size(&rng);
        blocks[i] = fill(sizes[i], stress_next(&rng));
    }
    uint64_t sum = 0;
    for (uint64_t step = 0; step < run->steps_per_thread; step++) {  /* one step: one replacement */
        int i = (int)stress_between(&rng, 0, LIVE - 1);
        sum += stress_release(blocks[i], sizes[i], &run->corrupted);
        sizes[i] = pick_size(&rng);
        blocks[i] = fill(sizes[i], stress_next(&rng));
    }
    for (int i = 0; i < LIVE; i++) sum += stress_release(blocks[i], sizes[i], &run->corrupted);
    free(blocks);
    free(sizes);
    atomic_fetch_add(&run->checksum, sum);
}

int main(int argc, char **argv)
{
    return stress_steps_main(argc, argv, "alloc-test", 500000, worker);
}
