/* The loop shared by cache-thrash and cache-scratch (Hoard's false-sharing
 * tests): allocate a small object, write every byte of it many times, free it.
 * If the allocator gives objects on one cache line to different threads, the
 * writes bounce the line between cores and the loop slows down. */
#ifndef CACHE_FALSE_SHARING_H
#define CACHE_FALSE_SHARING_H

#include "stress_common.h"

enum { OBJECT_SIZE = 8, WRITES_PER_OBJECT = 500 };

/* Returns the sum of the object's bytes after the writes, so the work is
 * checked and cannot be optimised away. */
static inline uint64_t write_object_hard(volatile unsigned char *object)
{
    for (int w = 0; w < WRITES_PER_OBJECT; w++) object[w % OBJECT_SIZE] = (unsigned char)(object[w % OBJECT_SIZE] + w);
    uint64_t sum = 0;
    for (int b = 0; b < OBJECT_SIZE; b++) sum += object[b];
    return sum;
}

static inline uint64_t churn_objects(uint64_t objects)
{
    uint64_t sum = 0;
    for (uint64_t i = 0; i < objects; i++) {
        volatile unsigned char *object = stress_malloc_or_die(OBJECT_SIZE);
        for (int b = 0; b < OBJECT_SIZE; b++) object[b] = (unsigned char)(i + b);
        sum += write_object_hard(object);
        free((void *)object);
    }
    return sum;
}

#endif
