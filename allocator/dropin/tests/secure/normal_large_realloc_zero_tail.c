/* A large block grown with realloc in small steps (in place, or moved by the kernel): the
 * caller's bytes kept, every byte past them zero (also where the old guard page and canary
 * lay), and writes up to the new end allowed. */
#include "case.h"
int main(void)
{
    return grow_by_realloc_expecting_zero_tail(200000, 40, 7);
}
