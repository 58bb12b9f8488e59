/* A medium block grown with realloc in small steps (in place over a free neighbour while one
 * follows it, moved otherwise, until it is large): the caller's bytes kept, every byte past
 * them zero (also where the canary and a neighbour's header lay), and writes up to the new
 * end allowed. */
#include "case.h"
int main(void)
{
    size_t n = 20000;
    unsigned char *p = malloc(n);
    expect(p != NULL, "malloc returned NULL");
    memset(p, 0x5a, n);
    for (int step = 0; step < 24; step++) {
        size_t grown = n + 4096 * (size_t)(1 + step % 5) + (size_t)step * 13;
        p = realloc(p, grown);
        expect(p != NULL, "realloc returned NULL");
        for (size_t i = 0; i < n; i++)
            expect(p[i] == 0x5a, "realloc lost the caller's bytes");
        for (size_t i = n; i < grown; i++)
            expect(p[i] == 0, "stale data past the old end after realloc");
        memset(p + n, 0x5a, grown - n);
        n = grown;
    }
    free(p);
    return 0;
}
