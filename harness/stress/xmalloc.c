/* xmalloc-like: cross-thread frees. Every thread produces batches of small
 * blocks (16-128 B) and hands each batch to the next thread, which frees it;
 * with one thread a thread frees its own batches. Like xmalloc-test, nearly
 * every free happens on a thread other than the one that allocated, which is
 * where allocators that return blocks to their owner under a lock fall over. */
#include "stress_common.h"

enum { BATCH = 100, MIN_SIZE = 16, MAX_SIZE = 128, MAX_QUEUED = 256 };

struct batch {
    struct batch *next;
    void *blocks[BATCH];
    size_t sizes[BATCH];
};

struct inbox {
    pthread_mutex_t lock;
    struct batch *head;
    int queued;
};

struct xmalloc {
    struct inbox *inboxes;
    int threads;
    uint64_t batches_per_thread;
    _Atomic int producers_left;
    /* Broadcast after every push and drain, so a waiting thread sleeps instead of spinning
     * (a spinning thread steals the core its partner needs on a loaded machine). */
    pthread_mutex_t progress_lock;
    pthread_cond_t progress;
    _Atomic uint64_t checksum;
    _Atomic uint64_t corrupted;
};

static uint64_t free_batches(struct batch *batch, _Atomic uint64_t *corrupted)
{
    uint64_t sum = 0;
    while (batch) {
        struct batch *next = batch->next;
        for (int i = 0; i < BATCH; i++) sum += stress_release(batch->blocks[i], batch->sizes[i], corrupted);
        free(batch);
        batch = next;
    }
    return sum;
}

static struct batch *take_all(struct inbox *box)
{
    pthread_mutex_lock(&box->lock);
    struct batch *all = box->head;
    box->head = NULL;
    box->queued = 0;
    pthread_mutex_unlock(&box->lock);
    return all;
}

static void announce_progress(struct xmalloc *run)
{
    pthread_mutex_lock(&run->progress_lock);
    pthread_cond_broadcast(&run->progress);
    pthread_mutex_unlock(&run->progress_lock);
}

/* Sleeps until another thread pushes or drains, or 1 ms passes (a wake-up that raced with the
 * caller's last check costs at most that). */
static void wait_for_progress(struct xmalloc *run)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += 1000000;
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&run->progress_lock);
    pthread_cond_timedwait(&run->progress, &run->progress_lock, &until);
    pthread_mutex_unlock(&run->progress_lock);
}

static uint64_t drain(struct xmalloc *run, struct inbox *box)
{
    struct batch *all = take_all(box);
    if (!all) return 0;
    announce_progress(run);
    return free_batches(all, &run->corrupted);
}

static void worker(int index, void *shared)
{
    struct xmalloc *run = shared;
    struct stress_rng rng = stress_rng_seed(0x3a110c, (uint64_t)index);
    struct inbox *mine = &run->inboxes[index], *next = &run->inboxes[(index + 1) % run->threads];
    uint64_t sum = 0;
    for (uint64_t b = 0; b < run->batches_per_thread; b++) {
        struct batch *batch = stress_malloc_or_die(sizeof *batch);
        for (int i = 0; i < BATCH; i++) {
            batch->sizes[i] = stress_between(&rng, MIN_SIZE, MAX_SIZE);
            batch->blocks[i] = stress_malloc_or_die(batch->sizes[i]);
            stress_tag(batch->blocks[i], batch->sizes[i], stress_next(&rng));
        }
        /* While the next thread's queue is full, keep freeing what others
         * send us: two threads waiting on each other's full queues would deadlock. */
        for (;;) {
            sum += drain(run, mine);
            pthread_mutex_lock(&next->lock);
            if (next->queued < MAX_QUEUED || next == mine) break;
            pthread_mutex_unlock(&next->lock);
            wait_for_progress(run);
        }
        batch->next = next->head;
        next->head = batch;
        next->queued++;
        pthread_mutex_unlock(&next->lock);
        announce_progress(run);
    }
    /* Keep draining until every producer is done: one may still wait for room in our queue. */
    atomic_fetch_sub(&run->producers_left, 1);
    announce_progress(run);
    while (atomic_load(&run->producers_left) > 0) {
        sum += drain(run, mine);
        wait_for_progress(run);
    }
    sum += drain(run, mine);
    atomic_fetch_add(&run->checksum, sum);
}

int main(int argc, char **argv)
{
    struct stress_args args = stress_parse_args(argc, argv);
    struct xmalloc run = {.threads = args.threads, .batches_per_thread = stress_scaled(160000, args.scale)};
    run.inboxes = stress_malloc_or_die(sizeof *run.inboxes * (size_t)args.threads);
    for (int i = 0; i < args.threads; i++) {
        pthread_mutex_init(&run.inboxes[i].lock, NULL);
        run.inboxes[i].head = NULL;
        run.inboxes[i].queued = 0;
    }
    run.producers_left = args.threads;
    pthread_mutex_init(&run.progress_lock, NULL);
    pthread_cond_init(&run.progress, NULL);
    stress_run_threads(args.threads, worker, &run);
    free(run.inboxes);
    return stress_report("xmalloc-test", args, atomic_load(&run.checksum), atomic_load(&run.corrupted));
}
