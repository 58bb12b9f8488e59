/* A write to a freed medium block (40000 bytes), found when the block would be reused. */
#include "case.h"
int main(void)
{
    char *p = opaque(malloc(40000));
    free(p);
    p[40000 / 2] = 'A';
    churn();
    return 0;
}
