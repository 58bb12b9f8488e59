/* realloc up and down across small, medium and large sizes keeps the smaller size's bytes. */
#include "case.h"

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 7 + 3);
}

int main(void)
{
    static const size_t sizes[] = {1, 15, 16, 17, 100, 4000, 16384, 20000, 130000, 300000, 1000, 64};
    unsigned char *p = NULL;
    size_t have = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        p = realloc(p, n);
        expect(p != NULL, "realloc returned NULL");
        for (size_t i = 0; i < (have < n ? have : n); i++)
            expect(p[i] == pattern(i), "realloc lost contents");
        for (size_t i = have; i < n; i++)
            p[i] = pattern(i);
        have = n;
    }
    free(p);
    return 0;
}
