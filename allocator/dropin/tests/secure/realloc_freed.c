/* realloc of a freed block. */
#include "case.h"
int main(void)
{
    void *p = opaque(malloc(100));
    free(p);
    p = realloc(p, 200);
    return 0;
}
