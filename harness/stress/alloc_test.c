/* alloc-test-like: OLogN's allocator test in its mimalloc-bench setting. The threads share
 * 2^18 slots between them; about half start with a block. Each step picks a slot with an
 * 80/20-style skew (below) and frees its block after reading every byte, or, when the slot
 * is empty, allocates a block and fills every byte. Sizes run from 5 B to 1 KiB: a power-of-
 * two class k = 2..9 with probability 2^-(k-1) (the last class gets the remainder), then a
 * size uniform in (2^k, 2^(k+1)]. The original runs 100 million steps per thread;
 * SCALE 1 runs a tenth of that. */
#include "stress_common.h"

enum { ALL_SLOTS = 1 << 18, SKEW_GROUPS = 7, MIN_CLASS = 2, MAX_CLASS = 9 };

struct alloc_test {
    struct stress_steps steps;
    int threads;
};

/* Slots form 7 groups; group g is picked with probability B(g) and holds a share B(6 - g)
 * of the slots, where B is the binomial(6, 0.2) distribution: a quarter of the steps go to
 * 0.006 % of the slots, and the rarest group holds a quarter of them. */
struct skew {
    double cumulative[SKEW_GROUPS];
    size_t first[SKEW_GROUPS + 1];
};

static double binomial_6_fifth(int k)
{
    static const int choose[SKEW_GROUPS] = {1, 6, 15, 20, 15, 6, 1};
    double p = choose[k];
    for (int i = 0; i < k; i++) p *= 0.2;
    for (int i = k; i < 6; i++) p *= 0.8;
    return p;
}

static struct skew make_skew(size_t slots)
{
    struct skew skew;
    double total = 0;
    skew.first[0] = 0;
    for (int g = 0; g < SKEW_GROUPS; g++) {
        total += binomial_6_fifth(g);
        skew.cumulative[g] = total;
        skew.first[g + 1] = skew.first[g] + (size_t)((double)slots * binomial_6_fifth(6 - g));
        if (skew.first[g + 1] <= skew.first[g]) skew.first[g + 1] = skew.first[g] + 1;
    }
    skew.first[SKEW_GROUPS] = slots;
    return skew;
}

static size_t pick_slot(const struct skew *skew, struct stress_rng *rng)
{
    double u = (double)(stress_next(rng) >> 11) * (1.0 / 9007199254740992.0);
    int g = 0;
    while (g < SKEW_GROUPS - 1 && u >= skew->cumulative[g]) g++;
    return skew->first[g] + (size_t)(stress_next(rng) % (skew->first[g + 1] - skew->first[g]));
}

static size_t pick_size(struct stress_rng *rng)
{
    uint64_t r = stress_next(rng);
    int k = MIN_CLASS;
    while (k < MAX_CLASS && (r & 1) == 0) {  /* class k + 1 half as likely as class k */
        k++;
        r >>= 1;
    }
    return ((size_t)1 << k) + 1 + (size_t)(stress_next(rng) % ((size_t)1 << k));
}

static uint64_t release_read(unsigned char *block, size_t size, _Atomic uint64_t *corrupted)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < size; i++) sum += block[i];
    return sum + stress_release(block, size, corrupted);
}

static unsigned char *fill(struct stress_rng *rng, size_t size)
{
    unsigned char *block = stress_malloc_or_die(size);
    memset(block, (int)(size & 0xff), size);
    stress_tag(block, size, stress_next(rng));
    return block;
}

static void worker(int index, void *shared)
{
    struct alloc_test *run = shared;
    struct stress_rng rng = stress_rng_seed(0xa110c, (uint64_t)index);
    size_t slots = ALL_SLOTS / (size_t)run->threads;
    struct skew skew = make_skew(slots);
    unsigned char **blocks = stress_malloc_or_die(sizeof *blocks * slots);
    size_t *sizes = stress_malloc_or_die(sizeof *sizes * slots);
    for (size_t i = 0; i < slots; i++) {
        blocks[i] = NULL;
        if (stress_next(&rng) & 1) blocks[i] = fill(&rng, sizes[i] = pick_size(&rng));
    }
    uint64_t sum = 0;
    for (uint64_t step = 0; step < run->steps.steps_per_thread; step++) {
        size_t i = pick_slot(&skew, &rng);
        if (blocks[i]) {
            sum += release_read(blocks[i], sizes[i], &run->steps.corrupted);
            blocks[i] = NULL;
        } else {
            blocks[i] = fill(&rng, sizes[i] = pick_size(&rng));
        }
    }
    for (size_t i = 0; i < slots; i++)
        if (blocks[i]) sum += release_read(blocks[i], sizes[i], &run->steps.corrupted);
    free(blocks);
    free(sizes);
    atomic_fetch_add(&run->steps.checksum, sum);
}

int main(int argc, char **argv)
{
    struct stress_args args = stress_parse_args(argc, argv);
    struct alloc_test run = {.steps.steps_per_thread = stress_scaled(10000000, args.scale), .threads = args.threads};
    stress_run_threads(args.threads, worker, &run);
    return stress_report("alloc-test", args, atomic_load(&run.steps.checksum), atomic_load(&run.steps.corrupted));
}
