/* A write to a freed large block (200000 bytes), found when the block would be reused. */
#include "case.h"
int main(void)
{
    char *p = opaque(malloc(200000));
    free(p);
    p[200000 / 2] = 'A';
    churn();
    return 0;
}
