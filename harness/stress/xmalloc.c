/* xmalloc-like: cross-thread frees, after Lever and Boreham's test. THREADS producer threads
 * fill batches of 4096 blocks of 64 B (every byte written) and push them on one shared
 * queue of at most 100 batches; THREADS consumer threads pop batches and free every block.
 * So every free happens on a thread other than the one that allocated the block, which is
 * where allocators that return blocks to their owner under a lock fall over. */
#include "stress_common.h"

enum { BATCH = 4096, BLOCK_SIZE = 64, MAX_QUEUED = 100, BATCHES_PER_PRODUCER = 1000 };

struct batch {
    struct batch *next;
    void *blocks[BATCH];
};

struct xmalloc {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    struct batch *head;
    int queued;
    int producers_left;
    uint64_t batches_per_producer;
    _Atomic uint64_t checksum;
    _Atomic uint64_t corrupted;
};

static void push(struct xmalloc *run, struct batch *batch)
{
    pthread_mutex_lock(&run->lock);
    while (run->queued >= MAX_QUEUED) pthread_cond_wait(&run->not_full, &run->lock);
    batch->next = run->head;
    run->head = batch;
    run->queued++;
    pthread_cond_signal(&run->not_empty);
    pthread_mutex_unlock(&run->lock);
}

/* The next batch, or NULL once every producer is done and the queue is empty. */
static struct batch *pop(struct xmalloc *run)
{
    pthread_mutex_lock(&run->lock);
    while (!run->head && run->producers_left > 0) pthread_cond_wait(&run->not_empty, &run->lock);
    struct batch *batch = run->head;
    if (batch) {
        run->head = batch->next;
        run->queued--;
        pthread_cond_signal(&run->not_full);
    }
    pthread_mutex_unlock(&run->lock);
    return batch;
}

static void produce(struct xmalloc *run, int index)
{
    struct stress_rng rng = stress_rng_seed(0x3a110c, (uint64_t)index);
    for (uint64_t b = 0; b < run->batches_per_producer; b++) {
        struct batch *batch = stress_malloc_or_die(sizeof *batch);
        for (int i = 0; i < BATCH; i++) {
            batch->blocks[i] = stress_malloc_or_die(BLOCK_SIZE);
            memset(batch->blocks[i], i & 0xff, BLOCK_SIZE);
            stress_tag(batch->blocks[i], BLOCK_SIZE, stress_next(&rng));
        }
        push(run, batch);
    }
    pthread_mutex_lock(&run->lock);
    if (--run->producers_left == 0) pthread_cond_broadcast(&run->not_empty);
    pthread_mutex_unlock(&run->lock);
}

static void consume(struct xmalloc *run)
{
    uint64_t sum = 0;
    for (struct batch *batch; (batch = pop(run));) {
        for (int i = 0; i < BATCH; i++) sum += stress_release(batch->blocks[i], BLOCK_SIZE, &run->corrupted);
        free(batch);
    }
    atomic_fetch_add(&run->checksum, sum);
}

/* Threads are started in pairs, a consumer then a producer, as in the original. */
static void worker(int index, void *shared)
{
    if (index % 2) produce(shared, index / 2);
    else consume(shared);
}

int main(int argc, char **argv)
{
    struct stress_args args = stress_parse_args(argc, argv);
    if (args.threads * 2 > STRESS_MAX_THREADS)
        stress_usage_error(argv[0], "THREADS producers plus as many consumers must not exceed the thread limit");
    struct xmalloc run = {.producers_left = args.threads,
                          .batches_per_producer = stress_scaled(BATCHES_PER_PRODUCER, args.scale)};
    pthread_mutex_init(&run.lock, NULL);
    pthread_cond_init(&run.not_empty, NULL);
    pthread_cond_init(&run.not_full, NULL);
    stress_run_threads(2 * args.threads, worker, &run);
    return stress_report("xmalloc-test", args, atomic_load(&run.checksum), atomic_load(&run.corrupted));
}
