/* glibc-thread: modelled on glibc's bench-malloc-thread. Each thread keeps a working set of
 * 1024 slots and, step after step, frees a slot and refills it with a block of 4-32768 B
 * (every byte written). As in the original, the sizes come from one table of 8000 draws
 * from an inverse-square distribution (mostly small blocks, a long tail) and the slots
 * from one table of 4096 random indices; every thread walks both tables round and round
 * from the start. The original runs for 2 s and counts steps; this runs a fixed number. */
#include "stress_common.h"

enum { WORKING_SET = 1024, MIN_SIZE = 4, MAX_SIZE = 32768, SIZE_DRAWS = 8000, SLOT_DRAWS = 4 * WORKING_SET };

struct glibc_thread {
    struct stress_steps steps;
    uint32_t sizes[SIZE_DRAWS];
    uint16_t slots[SLOT_DRAWS];
};

static void worker(int index, void *shared)
{
    (void)index;
    struct glibc_thread *run = shared;
    void *blocks[WORKING_SET] = {0};
    size_t sizes[WORKING_SET] = {0};
    uint64_t sum = 0;
    for (uint64_t step = 0; step < run->steps.steps_per_thread; step++) {
        int slot = run->slots[step % SLOT_DRAWS];
        size_t size = run->sizes[step % SIZE_DRAWS];
        sum += stress_release(blocks[slot], sizes[slot], &run->steps.corrupted);
        blocks[slot] = stress_malloc_or_die(size);
        sizes[slot] = size;
        memset(blocks[slot], (int)(step & 0xff), size);
        stress_tag(blocks[slot], size, step);
    }
    for (int slot = 0; slot < WORKING_SET; slot++) sum += stress_release(blocks[slot], sizes[slot], &run->steps.corrupted);
    atomic_fetch_add(&run->steps.checksum, sum);
}

int main(int argc, char **argv)
{
    struct stress_args args = stress_parse_args(argc, argv);
    static struct glibc_thread run;
    run.steps.steps_per_thread = stress_scaled(20000000, args.scale);
    struct stress_rng rng = stress_rng_seed(0x911bc, 0);
    for (int i = 0; i < SIZE_DRAWS; i++) run.sizes[i] = (uint32_t)stress_inverse_square(&rng, MIN_SIZE, MAX_SIZE);
    for (int i = 0; i < SLOT_DRAWS; i++) run.slots[i] = (uint16_t)stress_between(&rng, 0, WORKING_SET - 1);
    stress_run_workers(args.threads, STRESS_MAIN_WORKS_ALONE, worker, &run);
    return stress_report("glibc-thread", args, atomic_load(&run.steps.checksum), atomic_load(&run.steps.corrupted));
}
