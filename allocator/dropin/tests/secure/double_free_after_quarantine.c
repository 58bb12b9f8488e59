/* A second free long after the first, once the block has left the quarantine. */
#include "case.h"
int main(void)
{
    void *p = opaque(malloc(48));
    free(p);
    churn();
    free(p);
    return 0;
}
