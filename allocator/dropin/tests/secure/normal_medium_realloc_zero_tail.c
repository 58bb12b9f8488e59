/* A medium block grown with realloc in small steps (in place over a free neighbour while one
 * follows it, moved otherwise, until it is large): the caller's bytes kept, every byte past
 * them zero (also where the canary and a neighbour's header lay), and writes up to the new
 * end allowed. */
#include "case.h"
int main(void)
{
    return grow_by_realloc_expecting_zero_tail(20000, 24, 5);
}
