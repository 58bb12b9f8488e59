#include <stdio.h>
#include "memory.h"

int main() {
    int* data = (int*) mem_io_malloc(5 * sizeof(int));

    // Simulate some operations
    data[0] = 42;

    // Log internal state
    mem_io_log_trace();

    // Stack trace
    mem_io_stack_trace();

    // Clean up
    mem_io_free(data);

    return EXIT_SUCCESS;
}
