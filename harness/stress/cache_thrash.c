/* cache-thrash: active false sharing. Every thread allocates small objects,
 * writes them heavily and frees them; an allocator that serves threads from
 * one shared pool puts their objects on the same cache lines. */
#include "cache_false_sharing.h"

struct thrash {
    uint64_t objects_per_thread;
    _Atomic uint64_t checksum;
};

static void worker(int index, void *shared)
{
    (void)index;
    struct thrash *run = shared;
    atomic_fetch_add(&run->checksum, churn_objects(run->objects_per_thread));
}

int main(int argc, char **argv)
{
    struct stress_args args = stress_parse_args(argc, argv);
    struct thrash run = {.objects_per_thread = stress_scaled(600000, args.scale)};
    stress_run_threads(args.threads, worker, &run);
    return stress_report("cache-thrash", args, atomic_load(&run.checksum), 0);
}
