/* Two threads malloc and free 32-byte blocks as fast as they can. Run with glibc's tcache off
 * and one arena (GLIBC_TUNABLES, set by the test), an address one thread frees is at once
 * handed to the other thread's malloc: the recorder must number that free before that malloc.
 * Each thread allocates once before a barrier that both must reach before churning, so their
 * recordings overlap however the scheduler runs them: the recorder gives a thread that starts
 * after another ended that thread's index, and on a loaded machine one thread could otherwise
 * finish all its rounds before the other started, leaving a trace of one thread. */
#include <pthread.h>
#include <stdlib.h>

#define ROUNDS 50000

void *volatile escaped; /* stops the compiler from dropping malloc-free pairs */
static pthread_barrier_t both_started;

static void pair(void) {
    void *block = malloc(32);
    escaped = block;
    free(block);
}

static void *churn(void *unused) {
    (void)unused;
    pair();
    pthread_barrier_wait(&both_started);
    for (int i = 0; i < ROUNDS; i++) pair();
    return NULL;
}

int main(void) {
    pthread_t other;
    if (pthread_barrier_init(&both_started, NULL, 2) != 0) return 1;
    if (pthread_create(&other, NULL, churn, NULL) != 0) return 1;
    churn(NULL);
    return pthread_join(other, NULL);
}
