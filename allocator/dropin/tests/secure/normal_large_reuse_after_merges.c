/* Large blocks carved one after another from the range of a freed one, freed in both orders,
 * so that their ranges merge again in the large cache; a block over the merged range must be
 * writable to its end (no guard page of a former block left inside it) and read zero. */
#include "case.h"
static void fill_expecting_zero(size_t n)
{
    unsigned char *p = opaque(malloc(n));
    expect(p != NULL, "malloc returned NULL");
    for (size_t i = 0; i < n; i++)
        expect(p[i] == 0, "a reused large block was not zero");
    memset(p, 0x5a, n);
    free(p);
}
int main(void)
{
    size_t whole = (size_t)3 << 20, piece = 700000;
    for (int order = 0; order < 2; order++) {
        fill_expecting_zero(whole);
        unsigned char *a = opaque(malloc(piece)), *b = opaque(malloc(piece)), *c = opaque(malloc(piece));
        expect(a && b && c, "malloc returned NULL");
        memset(a, 1, piece);
        memset(b, 2, piece);
        memset(c, 3, piece);
        free(order ? c : a);
        free(b);
        free(order ? a : c);
        fill_expecting_zero(whole - 200000);
    }
    return 0;
}
