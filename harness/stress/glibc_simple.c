/* glibc-simple: modelled on glibc's bench-malloc-simple. Each thread
 * allocates a batch of same-size blocks and frees them all, for batch sizes
 * 25-400 and block sizes 16-1024 B: the allocator's plain fast path, with
 * batches big enough to run past per-thread caches. */
#include "stress_common.h"

static const size_t block_sizes[] = {16, 64, 256, 1024};
static const int batch_counts[] = {25, 100, 400};
enum { MAX_BATCH = 400 };

static void worker(int index, void *shared)
{
    struct stress_steps *run = shared;
    void **blocks = stress_malloc_or_die(sizeof *blocks * MAX_BATCH);
    uint64_t sum = 0, tag = (uint64_t)index << 40;
    for (uint64_t round = 0; round < run->steps_per_thread; round++)  /* one step: a round of every batch shape */
        for (size_t s = 0; s < sizeof block_sizes / sizeof *block_sizes; s++)
            for (size_t c = 0; c < sizeof batch_counts / sizeof *batch_counts; c++) {
                size_t size = block_sizes[s];
                int count = batch_counts[c];
                for (int i = 0; i < count; i++) {
                    blocks[i] = stress_malloc_or_die(size);
                    stress_tag(blocks[i], size, ++tag);
                }
                for (int i = 0; i < count; i++) sum += stress_release(blocks[i], size, &run->corrupted);
            }
    free(blocks);
    atomic_fetch_add(&run->checksum, sum);
}

int main(int argc, char **argv)
{
    return stress_steps_main(argc, argv, "glibc-simple", 3600, worker);
}
