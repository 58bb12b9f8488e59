/* cache-scratch: passive false sharing. The main thread allocates one object per thread,
 * back to back, so they share a cache line; each thread frees the object it was given and
 * then churns objects of the same size (cache_false_sharing.h). An allocator that hands the
 * freed neighbour's memory back to the thread that freed it makes the threads write to one
 * cache line. */
#include "cache_false_sharing.h"

struct scratch {
    struct false_sharing work;
    volatile unsigned char **seeds;
};

static void worker(int index, void *shared)
{
    struct scratch *run = shared;
    free((void *)run->seeds[index]);
    atomic_fetch_add(&run->work.checksum, churn_objects(run->work.writes_per_object));
}

int main(int argc, char **argv)
{
    struct stress_args args = stress_parse_args(argc, argv);
    struct scratch run = {.work = false_sharing_work(args)};
    run.seeds = stress_malloc_or_die(sizeof *run.seeds * (size_t)args.threads);
    for (int i = 0; i < args.threads; i++) run.seeds[i] = stress_malloc_or_die(OBJECT_SIZE);
    stress_run_threads(args.threads, worker, &run);
    free((void *)run.seeds);
    return stress_report("cache-scratch", args, atomic_load(&run.work.checksum), 0);
}
