/* Blocks over 4 GiB: the core rounds them up by as much as 1/8 of their size, more slack than
 * the block's tail can record, yet they are written at both ends and freed without a report. */
#include "case.h"
int main(void)
{
    for (size_t mib = 4200; mib <= 4600; mib += 200) {
        size_t n = mib << 20;
        unsigned char *p = opaque(malloc(n));
        expect(p != NULL, "malloc of over 4 GiB failed");
        p[0] = 1;
        p[n - 1] = 2;
        free(p);
    }
    return 0;
}
