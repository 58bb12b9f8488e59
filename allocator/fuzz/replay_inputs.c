/* Runs the fuzz target on saved inputs without libFuzzer, so the seed corpus
 * and every crash the fuzzer ever found replay as a unit test in every build:
 *   mem_io_fuzz_replay FILE|DIRECTORY...                                    */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *file = fopen(path, "rb");
    if (!file) {
        perror(path);
        return 1;
    }
    static uint8_t data[1 << 20];
    size_t size = fread(data, 1, sizeof data, file);
    int too_big = !feof(file);
    fclose(file);
    if (too_big) {
        fprintf(stderr, "%s: larger than %zu bytes, not a fuzz input\n", path, sizeof data);
        return 1;
    }
    LLVMFuzzerTestOneInput(data, size); /* aborts on a failed check */
    printf("replayed %s (%zu bytes)\n", path, size);
    return 0;
}

static int replay(const char *path, int *count)
{
    struct stat status;
    if (stat(path, &status) != 0) {
        perror(path);
        return 1;
    }
    if (!S_ISDIR(status.st_mode)) {
        ++*count;
        return replay_file(path);
    }
    DIR *directory = opendir(path);
    if (!directory) {
        perror(path);
        return 1;
    }
    int failed = 0;
    for (struct dirent *entry; (entry = readdir(directory)) != NULL;) {
        if (entry->d_name[0] == '.' || strcmp(entry->d_name, "README.md") == 0)
            continue;
        char child[4096];
        snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
        failed |= replay(child, count);
    }
    closedir(directory);
    return failed;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIRECTORY...\n", argv[0]);
        return 2;
    }
    int failed = 0, count = 0;
    for (int i = 1; i < argc; i++)
        failed |= replay(argv[i], &count);
    if (count == 0) {
        fprintf(stderr, "%s: no inputs found\n", argv[0]);
        return 1;
    }
    printf("%d inputs replayed\n", count);
    return failed;
}
