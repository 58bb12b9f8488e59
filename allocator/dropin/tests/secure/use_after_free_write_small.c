/* A write to a freed small block (100 bytes), found when the block would be reused. */
#include "case.h"
int main(void)
{
    char *p = opaque(malloc(100));
    free(p);
    p[100 / 2] = 'A';
    churn();
    return 0;
}
