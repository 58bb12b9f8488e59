/* mstress-like: mimalloc's stress test. 25 iterations each start THREADS threads (the main
 * thread is thread 0) that allocate a mix of short-lived and retained blocks, free random
 * earlier blocks and swap blocks with a shared 1000-slot transfer array, so blocks are freed
 * by other threads and survive into later iterations. Thread t makes 5000 * (t % 8 + 1)
 * short-lived blocks of 8-128 B and half as many retained ones of 8-512 B, and about 2 % of
 * all blocks are 100, 1000 or 10 000 times bigger (up to 5 MiB). Every word of a block is
 * written when it is made and checked when it is freed. */
#include "stress_common.h"

enum { ITERATIONS = 25, TRANSFERS = 1000, BASE_ALLOCS = 5000, DATA_GROWTH = 100000 };

struct mstress {
    _Atomic(uint64_t *) transfer[TRANSFERS];
    double scale;
    _Atomic uint64_t checksum;
    _Atomic uint64_t corrupted;
};

/* True with probability (percent + 1) / 100, the original's odds. */
static int chance(struct stress_rng *rng, int percent)
{
    return (int)(stress_next(rng) % 100) <= percent;
}

/* A block of `words` 64-bit words: word 0 holds the count in its low 20 bits and a random
 * 44-bit tag above them, word i the tag plus i, so a free can check every word. Its
 * checksum share is the tag. */
enum { COUNT_BITS = 20 };

static uint64_t *make_block(struct stress_rng *rng, uint64_t words)
{
    if (chance(rng, 1)) words *= chance(rng, 1) ? 10000 : chance(rng, 10) ? 1000 : 100;
    uint64_t *block = stress_malloc_or_die(words * sizeof *block);
    uint64_t tag = stress_next(rng) >> COUNT_BITS;
    block[0] = tag << COUNT_BITS | words;
    for (uint64_t i = 1; i < words; i++) block[i] = tag + i;
    return block;
}

static uint64_t drop_block(uint64_t *block, _Atomic uint64_t *corrupted)
{
    if (!block) return 0;
    uint64_t tag = block[0] >> COUNT_BITS, words = block[0] & ((1u << COUNT_BITS) - 1);
    for (uint64_t i = 1; i < words; i++)
        if (block[i] != tag + i) {
            atomic_fetch_add_explicit(corrupted, 1, memory_order_relaxed);
            break;
        }
    free(block);
    return tag;
}

static void worker(int index, void *shared)
{
    struct mstress *run = shared;
    struct stress_rng rng = stress_rng_seed(0x357e55, (uint64_t)index);  /* the same stream every iteration */
    uint64_t allocs = stress_scaled(BASE_ALLOCS, run->scale) * (uint64_t)(index % 8 + 1), retain = allocs / 2;
    uint64_t **retained = stress_malloc_or_die(sizeof *retained * (retain ? retain : 1));
    uint64_t **data = NULL;
    size_t data_size = 0, data_top = 0, retained_top = 0;
    uint64_t sum = 0;
    while (allocs > 0 || retain > 0) {
        if (retain == 0 || (chance(&rng, 50) && allocs > 0)) {
            allocs--;
            if (data_top == data_size) {
                data_size += DATA_GROWTH;
                data = realloc(data, data_size * sizeof *data);
                if (!data) {
                    fprintf(stderr, "mstress: realloc failed: out of memory\n");
                    exit(1);
                }
            }
            data[data_top++] = make_block(&rng, 1ull << (stress_next(&rng) % 5));
        } else {
            retained[retained_top++] = make_block(&rng, 1ull << (stress_next(&rng) % 7));
            retain--;
        }
        if (chance(&rng, 66) && data_top > 0) {
            size_t i = stress_next(&rng) % data_top;
            sum += drop_block(data[i], &run->corrupted);
            data[i] = NULL;
        }
        if (chance(&rng, 25) && data_top > 0) {
            size_t i = stress_next(&rng) % data_top;
            data[i] = atomic_exchange(&run->transfer[stress_next(&rng) % TRANSFERS], data[i]);
        }
    }
    for (size_t i = 0; i < retained_top; i++) sum += drop_block(retained[i], &run->corrupted);
    for (size_t i = 0; i < data_top; i++) sum += drop_block(data[i], &run->corrupted);
    free(retained);
    free(data);
    atomic_fetch_add(&run->checksum, sum);
}

int main(int argc, char **argv)
{
    struct stress_args args = stress_parse_args(argc, argv);
    static struct mstress run;
    run.scale = args.scale;
    struct stress_rng rng = stress_rng_seed(0x357e55, STRESS_MAX_THREADS);
    for (int n = 0; n < ITERATIONS; n++) {
        stress_run_workers(args.threads, STRESS_MAIN_WORKS, worker, &run);
        /* About half the transfer slots survive into the next iteration; the last frees all. */
        for (int i = 0; i < TRANSFERS; i++)
            if (chance(&rng, 50) || n + 1 == ITERATIONS)
                atomic_fetch_add(&run.checksum, drop_block(atomic_exchange(&run.transfer[i], NULL), &run.corrupted));
    }
    return stress_report("mstress", args, atomic_load(&run.checksum), atomic_load(&run.corrupted));
}
