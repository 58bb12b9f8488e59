/* free of a pointer that was never set: what a stale stack slot holds (here, a made-up address
 * in no mapping of the process). */
#include "case.h"
int main(void)
{
    free(opaque((void *)(uintptr_t)0x5a5a5a5a5a50));
    return 0;
}
