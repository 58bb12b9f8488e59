#include <stdio.h>
#include "memory.h"

int main() {
    char* buffer = (char*) mem_io_malloc(50);
    if (buffer == NULL) {
        perror("Allocation failed");
        return EXIT_FAILURE;
    }

    // Use the buffer
    snprintf(buffer, 50, "Hello, World!");

    // Resize the buffer
    buffer = (char*) mem_io_realloc(buffer, 100);
    if (buffer == NULL) {
        perror("Reallocation failed");
        return EXIT_FAILURE;
    }

    // Continue using the buffer
    strncat(buffer, " Additional text.", 100 - strlen(buffer) - 1);

    // Free the buffer
    mem_io_free(buffer);

    return EXIT_SUCCESS;
}
