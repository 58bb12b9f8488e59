/* malloc-large: big blocks. Each thread keeps up to 20 blocks of 5-25 MiB
 * alive, replacing a random one at each step, and touches the start and end
 * of every new block. Allocators that unmap freed big blocks at once pay the
 * page faults again on every reuse, a fault per 4 KiB page touched. */
#include "stress_common.h"

enum { LIVE = 20, TOUCHED_PAGES = 64, PAGE = 4096 };
#define MIN_SIZE ((size_t)5 << 20)
#define MAX_SIZE ((size_t)25 << 20)

static void *make_block(size_t size, uint64_t tag)
{
    unsigned char *block = stress_malloc_or_die(size);
    for (size_t page = 0; page < TOUCHED_PAGES; page++) block[page * PAGE] = (unsigned char)page;
    stress_tag(block, size, tag);
    return block;
}

static void worker(int index, void *shared)
{
    struct stress_steps *run = shared;
    struct stress_rng rng = stress_rng_seed(0x1a29e, (uint64_t)index);
    void *blocks[LIVE] = {0};
    size_t sizes[LIVE] = {0};
    uint64_t sum = 0;
    for (uint64_t step = 0; step < run->steps_per_thread; step++) {
        int i = (int)stress_between(&rng, 0, LIVE - 1);
        sum += stress_release(blocks[i], sizes[i], &run->corrupted);
        sizes[i] = stress_between(&rng, MIN_SIZE, MAX_SIZE);
        blocks[i] = make_block(sizes[i], stress_next(&rng));
    }
    for (int i = 0; i < LIVE; i++) sum += stress_release(blocks[i], sizes[i], &run->corrupted);
    atomic_fetch_add(&run->checksum, sum);
}

int main(int argc, char **argv)
{
    return stress_steps_main(argc, argv, "malloc-large", 500, worker);
}
