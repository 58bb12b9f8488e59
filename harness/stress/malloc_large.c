/* malloc-large: big blocks, after mimalloc-bench's test. Each thread keeps 20 slots; each step
 * allocates a 5-25 MiB block, writes all of it, and only then frees the block it replaces
 * in a random slot (the original assigns a new zero-filled buffer to a smart pointer). Allocators
 * that unmap freed big blocks at once pay the page faults again on every reuse, a fault per
 * 4 KiB page. The original runs 2000 steps; SCALE 1 runs 40 per thread (SCALE 50 runs 2000),
 * since a step that faults its block in takes thousands of faults. */
#include "stress_common.h"

enum { LIVE = 20 };
#define MIN_SIZE ((size_t)5 << 20)
#define MAX_SIZE ((size_t)25 << 20)

static void worker(int index, void *shared)
{
    struct stress_steps *run = shared;
    struct stress_rng rng = stress_rng_seed(0x1a29e, (uint64_t)index);
    void *blocks[LIVE] = {0};
    size_t sizes[LIVE] = {0};
    uint64_t sum = 0;
    for (uint64_t step = 0; step < run->steps_per_thread; step++) {
        int i = (int)stress_between(&rng, 0, LIVE - 1);
        size_t size = stress_between(&rng, MIN_SIZE, MAX_SIZE);
        void *block = stress_malloc_or_die(size);
        memset(block, 0xa5, size);  /* not zero: the compiler would turn malloc+memset into calloc */
        stress_tag(block, size, stress_next(&rng));
        sum += stress_release(blocks[i], sizes[i], &run->corrupted);
        blocks[i] = block;
        sizes[i] = size;
    }
    for (int i = 0; i < LIVE; i++) sum += stress_release(blocks[i], sizes[i], &run->corrupted);
    atomic_fetch_add(&run->checksum, sum);
}

int main(int argc, char **argv)
{
    return stress_steps_main(argc, argv, "malloc-large", 40, STRESS_MAIN_WORKS, worker);
}
