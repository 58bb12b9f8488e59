/* calloc'd blocks of every kind read as zero, also when they reuse freed memory. */
#include "case.h"
int main(void)
{
    static const size_t sizes[] = {1, 24, 100, 1000, 16000, 40000, 200000, 2000000};
    for (int round = 0; round < 3; round++)
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
            unsigned char *p = calloc(1, sizes[k]);
            expect(p != NULL, "calloc returned NULL");
            for (size_t i = 0; i < sizes[k]; i++)
                expect(p[i] == 0, "calloc'd byte not zero");
            memset(p, 0xff, sizes[k]);
            free(p);
        }
    return 0;
}
