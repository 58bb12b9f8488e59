/* Consecutive blocks of one size do not come out at consecutive addresses (secure mode
 * shuffles the order in which a page's blocks are handed out), so an overflow cannot count on
 * which block follows its own. */
#include "case.h"
int main(void)
{
    enum { COUNT = 200 };
    char *prev = malloc(32);
    int sequential = 0;
    for (int i = 0; i < COUNT; i++) {
        char *p = malloc(32);
        sequential += p - prev == 48 || p - prev == 32;  /* the next block, with or without canary room */
        prev = p;
    }
    printf("%d of %d blocks follow the one before\n", sequential, COUNT);
    expect(sequential < COUNT / 4, "blocks come out in address order");
    return 0;
}
