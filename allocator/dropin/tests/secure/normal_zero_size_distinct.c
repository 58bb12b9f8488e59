/* malloc(0) results are distinct non-NULL pointers that free and realloc accept. */
#include "case.h"
int main(void)
{
    enum { COUNT = 1000 };
    static void *p[COUNT];
    for (int i = 0; i < COUNT; i++) {
        p[i] = malloc(0);
        expect(p[i] != NULL, "malloc(0) returned NULL");
        for (int j = 0; j < i; j++)
            expect(p[j] != p[i], "malloc(0) returned the same pointer twice");
    }
    expect(malloc_usable_size(p[0]) == 0, "a zero-size object has usable bytes");
    p[1] = realloc(p[1], 10);
    memset(p[1], 1, 10);
    for (int i = 0; i < COUNT; i++)
        free(p[i]);
    return 0;
}
