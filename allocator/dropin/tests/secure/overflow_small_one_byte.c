/* An off-by-one: the terminating NUL of a 24-character string written past a 24-byte block. */
#include "case.h"
int main(void)
{
    char *p = opaque(malloc(24));
    memcpy(p, "abcdefghijklmnopqrstuvwx", 24);
    p[24] = '\0';
    free(p);
    return 0;
}
