/* A freed block's contents never reach the next user: every malloc'd byte reads zero after
 * blocks of the same sizes were filled and freed. */
#include "case.h"
int main(void)
{
    static const size_t sizes[] = {16, 48, 100, 1000, 40000, 200000};
    for (int round = 0; round < 600; round++) {
        size_t n = sizes[round % 6];
        unsigned char *p = malloc(n);
        expect(p != NULL, "malloc returned NULL");
        for (size_t i = 0; i < n; i++)
            expect(p[i] == 0, "stale data in a new block");
        memset(p, 0xa5, n);
        free(p);
    }
    return 0;
}
