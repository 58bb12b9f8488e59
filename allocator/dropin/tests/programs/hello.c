/* Compiled by gcc running on mem_io, then run on it: sorts and sums. */
#include <stdio.h>
#include <stdlib.h>

static int compare(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    enum { COUNT = 100000 };
    unsigned *values = malloc(COUNT * sizeof *values);
    if (!values)
        return 1;
    for (unsigned i = 0; i < COUNT; i++)
        values[i] = i * 2654435761u;
    qsort(values, COUNT, sizeof *values, compare);
    unsigned long long checksum = 0;
    for (unsigned i = 0; i < COUNT; i++)
        checksum = checksum * 31 + values[i];
    printf("hello from gcc on mem_io: min=%u max=%u checksum=%llu\n", values[0], values[COUNT - 1],
           checksum);
    free(values);
    return 0;
}
