#include <stdio.h>
#include "memory.h"

int main() {
    int* array = (int*) mem_io_malloc(10 * sizeof(int));
    if (array == NULL) {
        perror("Allocation failed");
        return EXIT_FAILURE;
    }

    // Use the allocated memory
    for (int i = 0; i < 10; i++) {
        array[i] = i * i;
    }

    // Free the allocated memory
    mem_io_free(array);

    return EXIT_SUCCESS;
}
