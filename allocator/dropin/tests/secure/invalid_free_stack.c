/* free of a stack address. */
#include "case.h"
int main(void)
{
    char local[64];
    free(opaque(local));
    return 0;
}
