/* A large block grown with realloc in small steps (in place, or moved by the kernel): the
 * caller's bytes kept, every byte past them zero (also where the old guard page and canary
 * lay), and writes up to the new end allowed. */
#include "case.h"
int main(void)
{
    size_t n = 200000;
    unsigned char *p = malloc(n);
    expect(p != NULL, "malloc returned NULL");
    memset(p, 0x5a, n);
    for (int step = 0; step < 40; step++) {
        size_t grown = n + 4096 * (size_t)(1 + step % 7) + (size_t)step * 13;
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
