/* malloc_usable_size of a freed block. */
#include "case.h"
int main(void)
{
    void *p = opaque(malloc(100));
    free(p);
    printf("%zu\n", malloc_usable_size(p));
    return 0;
}
