/* An array grown by doubling with realloc to 64 MiB, every element checked at each step. */
#include "case.h"
int main(void)
{
    uint32_t *a = NULL;
    size_t count = 0;
    for (size_t cap = 1; cap <= ((size_t)16 << 20); cap *= 2) {
        a = realloc(a, cap * sizeof *a);
        expect(a != NULL, "realloc returned NULL");
        for (size_t i = 0; i < count; i++)
            expect(a[i] == (uint32_t)(i * 2654435761u), "an element changed when the array grew");
        for (; count < cap; count++)
            a[count] = (uint32_t)(count * 2654435761u);
    }
    free(a);
    return 0;
}
