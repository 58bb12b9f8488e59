/* Two threads hand blocks to each other through a mutex-protected ring: every block is
 * allocated by one thread and freed by the other, the cross-thread pattern the recorder must
 * order correctly (a free before the malloc that reuses its address). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define BLOCKS_PER_THREAD 20000
#define RING 64

struct ring {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    void *slots[RING];
    unsigned head, tail;
};

static struct ring rings[2] = {
    {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0},
    {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0},
};

static void put(struct ring *ring, void *block) {
    pthread_mutex_lock(&ring->lock);
    while (ring->head - ring->tail == RING) pthread_cond_wait(&ring->changed, &ring->lock);
    ring->slots[ring->head++ % RING] = block;
    pthread_cond_broadcast(&ring->changed);
    pthread_mutex_unlock(&ring->lock);
}

static void *take(struct ring *ring) {
    pthread_mutex_lock(&ring->lock);
    while (ring->head == ring->tail) pthread_cond_wait(&ring->changed, &ring->lock);
    void *block = ring->slots[ring->tail++ % RING];
    pthread_cond_broadcast(&ring->changed);
    pthread_mutex_unlock(&ring->lock);
    return block;
}

/* Thread `side` allocates into rings[side] and frees what arrives on the other ring. */
static void *exchange(void *argument) {
    int side = (int)(intptr_t)argument;
    for (int i = 0; i < BLOCKS_PER_THREAD; i++) {
        put(&rings[side], malloc(16 + (size_t)(i % 64) * 8));
        free(take(&rings[!side]));
    }
    return NULL;
}

int main(void) {
    pthread_t other;
    if (pthread_create(&other, NULL, exchange, (void *)(intptr_t)1) != 0) return 1;
    exchange((void *)(intptr_t)0);
    return pthread_join(other, NULL);
}
