/* The loop shared by cache-thrash and cache-scratch (Hoard's false-sharing tests), with the
 * originals' parameters: every thread allocates a 1-byte object 1000 times, writes it
 * 2 000 000 / THREADS times (a store and a read back each time) and frees it, so the total
 * work is the same for any thread count. If the allocator gives objects on one cache line to
 * different threads, the writes bounce the line between cores and the loop slows down. */
#ifndef CACHE_FALSE_SHARING_H
#define CACHE_FALSE_SHARING_H

#include "stress_common.h"

enum { OBJECT_SIZE = 1, OBJECTS_PER_THREAD = 1000, WRITES_PER_OBJECT_IN_ALL = 2000000 };

struct false_sharing {
    uint64_t writes_per_object;  /* WRITES_PER_OBJECT_IN_ALL * SCALE / THREADS */
    _Atomic uint64_t checksum;
};

static inline struct false_sharing false_sharing_work(struct stress_args args)
{
    struct false_sharing run = {.writes_per_object = stress_scaled(WRITES_PER_OBJECT_IN_ALL, args.scale / args.threads)};
    return run;
}

/* Returns the sum of the bytes read back, so the work is checked and cannot be optimised away. */
static inline uint64_t write_object_hard(volatile unsigned char *object, uint64_t writes)
{
    uint64_t sum = 0;
    for (uint64_t w = 0; w < writes; w++)
        for (int b = 0; b < OBJECT_SIZE; b++) {
            object[b] = (unsigned char)(w + b);
            sum += object[b];
        }
    return sum;
}

static inline uint64_t churn_objects(uint64_t writes)
{
    uint64_t sum = 0;
    for (int i = 0; i < OBJECTS_PER_THREAD; i++) {
        volatile unsigned char *object = stress_malloc_or_die(OBJECT_SIZE);
        sum += write_object_hard(object, writes);
        free((void *)object);
    }
    return sum;
}

#endif
