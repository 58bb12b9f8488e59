/* glibc-simple: modelled on glibc's bench-malloc-simple with the parameters mimalloc-bench
 * runs it with. For block sizes 16, 32 and 64 B and batch counts 25, 100, 400 and 1600, a
 * phase allocates batches of same-size blocks (every byte written) and frees each batch,
 * its first half oldest first and its second half newest first, 2 000 000 blocks per size
 * and count. Four phases per size, as in the original: a warm-up and a timed run on the
 * worker's own thread, one on a thread it starts for it, and one more on its own thread.
 * Worker 0 is the main thread, so with one thread glibc serves it from its main arena. */
#include "stress_common.h"

static const size_t block_sizes[] = {16, 32, 64};
static const int batch_counts[] = {25, 100, 400, 1600};
enum { MAX_BATCH = 1600, BLOCKS_PER_SHAPE = 2000000, PHASES_ON_OWN_THREAD = 3 };

struct simple {
    double scale;
    _Atomic uint64_t checksum;
    _Atomic uint64_t corrupted;
};

struct phase {
    struct simple *run;
    size_t size;
    uint64_t tag_base;
    uint64_t sum;
};

static void *run_phase(void *arg)
{
    struct phase *phase = arg;
    void **blocks = stress_malloc_or_die(sizeof *blocks * MAX_BATCH);
    uint64_t tag = phase->tag_base;
    for (size_t c = 0; c < sizeof batch_counts / sizeof *batch_counts; c++) {
        int count = batch_counts[c];
        uint64_t rounds = stress_scaled(BLOCKS_PER_SHAPE / (uint64_t)count, phase->run->scale);
        for (uint64_t round = 0; round < rounds; round++) {
            for (int i = 0; i < count; i++) {
                blocks[i] = stress_malloc_or_die(phase->size);
                memset(blocks[i], i & 0xff, phase->size);
                stress_tag(blocks[i], phase->size, ++tag);
            }
            for (int i = 0; i < count / 2; i++) phase->sum += stress_release(blocks[i], phase->size, &phase->run->corrupted);
            for (int i = count - 1; i >= count / 2; i--)
                phase->sum += stress_release(blocks[i], phase->size, &phase->run->corrupted);
        }
    }
    free(blocks);
    return NULL;
}

static void worker(int index, void *shared)
{
    struct simple *run = shared;
    struct phase phase = {run, 0, (uint64_t)index << 48, 0};
    for (size_t s = 0; s < sizeof block_sizes / sizeof *block_sizes; s++) {
        phase.size = block_sizes[s];
        for (int p = 0; p < PHASES_ON_OWN_THREAD; p++) {
            run_phase(&phase);
            if (p == 1) {  /* the third phase runs on a new thread */
                pthread_join(stress_create_thread(run_phase, &phase), NULL);
            }
        }
    }
    atomic_fetch_add(&run->checksum, phase.sum);
}

int main(int argc, char **argv)
{
    struct stress_args args = stress_parse_args(argc, argv);
    struct simple run = {.scale = args.scale};
    stress_run_workers(args.threads, STRESS_MAIN_WORKS, worker, &run);
    return stress_report("glibc-simple", args, atomic_load(&run.checksum), atomic_load(&run.corrupted));
}
