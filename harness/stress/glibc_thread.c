/* glibc-thread: modelled on glibc's bench-malloc-thread. Each thread keeps a
 * working set of 1024 slots and, step after step, frees a random slot and
 * refills it with a block of 4-32768 bytes drawn from an inverse-square
 * distribution (mostly small, a long tail), with a fixed seed. */
#include "stress_common.h"

enum { WORKING_SET = 1024, MIN_SIZE = 4, MAX_SIZE = 32768 };

static void worker(int index, void *shared)
{
    struct stress_steps *run = shared;
    struct stress_rng rng = stress_rng_seed(0x911bc, (uint64_t)index);
    void *blocks[WORKING_SET] = {0};
    size_t sizes[WORKING_SET] = {0};
    uint64_t sum = 0;
    for (uint64_t step = 0; step < run->steps_per_thread; step++) {
        int slot = (int)stress_between(&rng, 0, WORKING_SET - 1);
        sum += stress_release(blocks[slot], sizes[slot], &run->corrupted);
        sizes[slot] = stress_inverse_square(&rng, MIN_SIZE, MAX_SIZE);
        blocks[slot] = stress_malloc_or_die(sizes[slot]);
        stress_tag(blocks[slot], sizes[slot], stress_next(&rng));
    }
    for (int slot = 0; slot < WORKING_SET; slot++) sum += stress_release(blocks[slot], sizes[slot], &run->corrupted);
    atomic_fetch_add(&run->checksum, sum);
}

int main(int argc, char **argv)
{
    return stress_steps_main(argc, argv, "glibc-thread", 6000000, worker);
}
