/* Every new block reads zero also where its memory last served blocks of another size class,
 * or came back from a free by another thread: rounds of many blocks of varied sizes, filled,
 * freed by a second thread, so that their pages empty and are formatted for other classes. */
#include "case.h"
#include <pthread.h>

#define COUNT 20000
static unsigned char *blocks[COUNT];

static void *free_all(void *unused)
{
    for (int i = 0; i < COUNT; i++)
        free(blocks[i]);
    return unused;
}

int main(void)
{
    for (int round = 0; round < 6; round++) {
        for (int i = 0; i < COUNT; i++) {
            size_t n = 8 + (size_t)((i * 7 + round * 13) % 97) * 24;  /* 8 B .. 2.3 KiB */
            blocks[i] = malloc(n);
            expect(blocks[i] != NULL, "malloc returned NULL");
            for (size_t b = 0; b < n; b++)
                expect(blocks[i][b] == 0, "stale data in a new block");
            memset(blocks[i], 0xa5, n);
        }
        pthread_t thread;
        expect(pthread_create(&thread, NULL, free_all, NULL) == 0, "pthread_create failed");
        pthread_join(thread, NULL);
        churn();  /* the blocks in the other thread's quarantine go back */
    }
    return 0;
}
