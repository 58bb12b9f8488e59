/* aligned_alloc, posix_memalign and memalign blocks are aligned, writable to their size and
 * freed without a report. */
#include "case.h"
int main(void)
{
    static const size_t alignments[] = {16, 32, 64, 256, 4096, 65536};
    for (size_t k = 0; k < sizeof alignments / sizeof alignments[0]; k++) {
        size_t a = alignments[k];
        void *p = aligned_alloc(a, 3 * a);
        void *q = NULL;
        expect(posix_memalign(&q, a, 100) == 0, "posix_memalign failed");
        void *r = memalign(a, 1);
        expect(p && q && r, "an aligned allocation returned NULL");
        expect(((uintptr_t)p | (uintptr_t)q | (uintptr_t)r) % a == 0, "misaligned block");
        memset(p, 1, 3 * a);
        memset(q, 2, 100);
        memset(r, 3, 1);
        free(p);
        free(q);
        free(r);
    }
    return 0;
}
