/* malloc_usable_size of a pointer into the middle of a live block. */
#include "case.h"
int main(void)
{
    char *p = opaque(malloc(100));
    printf("%zu\n", malloc_usable_size(opaque(p + 32)));
    return 0;
}
