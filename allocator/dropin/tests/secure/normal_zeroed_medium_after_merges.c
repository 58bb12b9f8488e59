/* A new medium block reads zero also where its memory held the headers and free-list links
 * of blocks that were merged when freed: rounds of many adjacent medium blocks of varied
 * sizes, filled and freed (their neighbours free too, so they merge once they leave the
 * quarantine), then carved again at other sizes and boundaries. */
#include "case.h"

#define COUNT 200
static unsigned char *blocks[COUNT];

int main(void)
{
    for (int round = 0; round < 8; round++) {
        for (int i = 0; i < COUNT; i++) {
            size_t n = 17000 + (size_t)((i * 37 + round * 211) % 101) * 1010;  /* 17 .. 118 KB */
            blocks[i] = malloc(n);
            expect(blocks[i] != NULL, "malloc returned NULL");
            for (size_t b = 0; b < n; b++)
                expect(blocks[i][b] == 0, "stale data in a new medium block");
            memset(blocks[i], 0xa5, n);
        }
        for (int i = 0; i < COUNT; i++)
            free(blocks[i]);
        churn();  /* the quarantined blocks go back to the core and merge */
    }
    return 0;
}
