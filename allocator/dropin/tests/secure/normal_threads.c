/* Blocks allocated by one thread and freed by another, both ways, in every size range. */
#include "case.h"
#include <pthread.h>

enum { BLOCKS = 4000 };
static void *blocks[BLOCKS];
static const size_t sizes[] = {16, 100, 1000, 40000, 200000};

static void *free_all(void *unused)
{
    (void)unused;
    for (int i = 0; i < BLOCKS; i++)
        free(blocks[i]);
    for (int i = 0; i < BLOCKS; i++) {
        blocks[i] = malloc(sizes[i % 5] / 4 + 1);
        memset(blocks[i], 7, sizes[i % 5] / 4 + 1);
    }
    return NULL;
}

int main(void)
{
    for (int i = 0; i < BLOCKS; i++) {
        blocks[i] = malloc(sizes[i % 5]);
        memset(blocks[i], i, sizes[i % 5]);
    }
    pthread_t t;
    expect(pthread_create(&t, NULL, free_all, NULL) == 0, "pthread_create failed");
    pthread_join(t, NULL);
    for (int i = 0; i < BLOCKS; i++)
        free(blocks[i]);
    churn();
    return 0;
}
