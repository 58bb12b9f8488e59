/* Forks a child that allocates CHILD_BLOCKS blocks of 48 bytes and frees them, and frees in
 * the child a block the parent allocated before the fork; the parent allocates and frees
 * PARENT_BLOCKS blocks of 32 bytes after the fork. Tests check that each process's recording
 * holds its own calls only. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define PARENT_BLOCKS 7
#define CHILD_BLOCKS 5

void *volatile escaped; /* stops the compiler from dropping malloc-free pairs */

static void churn(int count, size_t size) {
    void *blocks[16];
    for (int i = 0; i < count; i++) escaped = blocks[i] = malloc(size);
    for (int i = 0; i < count; i++) free(blocks[i]);
}

int main(void) {
    void *inherited = escaped = malloc(1000);
    pid_t child = fork();
    if (child < 0) return 1;
    if (child == 0) {
        churn(CHILD_BLOCKS, 48);
        free(inherited); /* allocated before the fork: unknown to the child's recording */
        exit(0);
    }
    churn(PARENT_BLOCKS, 32);
    int status;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
    free(inherited);
    return 0;
}
