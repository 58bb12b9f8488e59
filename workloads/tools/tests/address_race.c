/* Two threads malloc and free 32-byte blocks as fast as they can. Run with glibc's tcache off
 * and one arena (GLIBC_TUNABLES, set by the test), an address one thread frees is at once
 * handed to the other thread's malloc: the recorder must number that free before that malloc. */
#include <pthread.h>
#include <stdlib.h>

#define ROUNDS 50000

void *volatile escaped; /* stops the compiler from dropping malloc-free pairs */

static void *churn(void *unused) {
    (void)unused;
    for (int i = 0; i < ROUNDS; i++) {
        void *block = malloc(32);
        escaped = block;
        free(block);
    }
    return NULL;
}

int main(void) {
    pthread_t other;
    if (pthread_create(&other, NULL, churn, NULL) != 0) return 1;
    churn(NULL);
    return pthread_join(other, NULL);
}
