/* cache-scratch: passive false sharing. The main thread allocates one small
 * object per thread, back to back, so they share cache lines; each thread
 * frees the object it was given and then churns objects of the same size.
 * An allocator that hands the freed neighbour's memory back to the thread
 * that freed it makes the threads write to one cache line. */
#include "cache_false_sharing.h"

struct scratch {
    volatile unsigned char **seeds;
    uint64_t objects_per_thread;
    _Atomic uint64_t checksum;
};

static void worker(int index, void *shared)
{
    struct scratch *run = shared;
    uint64_t sum = write_object_hard(run->seeds[index]);
    free((void *)run->seeds[index]);
    atomic_fetch_add(&run->checksum, sum + churn_objects(run->objects_per_thread));
}

int main(int argc, char **argv)
{
    struct stress_args args = stress_parse_args(argc, argv);
    struct scratch run = {.objects_per_thread = stress_scaled(600000, args.scale)};
    run.seeds = stress_malloc_or_die(sizeof *run.seeds * (size_t)args.threads);
    for (int i = 0; i < args.threads; i++) {
        run.seeds[i] = stress_malloc_or_die(OBJECT_SIZE);
        for (int b = 0; b < OBJECT_SIZE; b++) run.seeds[i][b] = (unsigned char)(i * b);
    }
    stress_run_threads(args.threads, worker, &run);
    free((void *)run.seeds);
    return stress_report("cache-scratch", args, atomic_load(&run.checksum), 0);
}
