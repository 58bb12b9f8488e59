/* cache-thrash: active false sharing. Every thread churns small objects and writes them
 * heavily (cache_false_sharing.h); an allocator that serves threads from one shared pool
 * puts their objects on the same cache lines. */
#include "cache_false_sharing.h"

static void worker(int index, void *shared)
{
    (void)index;
    struct false_sharing *run = shared;
    atomic_fetch_add(&run->checksum, churn_objects(run->writes_per_object));
}

int main(int argc, char **argv)
{
    struct stress_args args = stress_parse_args(argc, argv);
    struct false_sharing run = false_sharing_work(args);
    stress_run_threads(args.threads, worker, &run);
    return stress_report("cache-thrash", args, atomic_load(&run.checksum), 0);
}
