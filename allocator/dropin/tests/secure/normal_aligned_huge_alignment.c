/* Blocks aligned to 256 MiB-1 GiB: their alignment leaves more slack in the mapping than the
 * block's tail can record, yet they are written to their size and freed without a report. */
#include "case.h"
int main(void)
{
    for (int shift = 28; shift <= 30; shift++) {
        for (int round = 0; round < 16; round++) {
            size_t a = (size_t)1 << shift, n = 5000 + 12288 * (size_t)round;
            void *p = NULL;
            expect(posix_memalign(&p, a, n) == 0 && p, "posix_memalign failed");
            expect((uintptr_t)p % a == 0, "misaligned block");
            memset(p, 1, n);
            free(p);
        }
    }
    return 0;
}
