/* Misuse must be caught, never silently absorbed. One ctest test per case:
 *   misuse_detection CASE
 * runs this same program twice as a child, `misuse_detection --child CASE`:
 *   1. with MEM_IO_ON_ERROR unset: the child must die of SIGABRT after printing
 *      exactly one line `mem_io: <function>(): <problem> (ptr=0x…)` on stderr
 *      that names the right problem and the misused address;
 *   2. with MEM_IO_ON_ERROR=continue: the child must print the same line, run
 *      on, find every other live block intact, allocate and free again, count
 *      the error in mem_io_get_stats and show it in mem_io_log_trace, exit 0.
 * The child announces the addresses it will misuse on stdout beforehand. */
#define _GNU_SOURCE /* MAP_ANONYMOUS, setenv, readlink, memalign */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api_under_test.h"

/* ---- The child: commit one misuse among live blocks ---------------------- */

static void announce(const void *culprit)
{
    printf("culprit ptr=%p\n", culprit);
    fflush(stdout);
}

static void fail(const char *what)
{
    printf("child failed: %s\n", what);
    fflush(stdout);
    _exit(3);
}

static void *allocate_or_fail(size_t size)
{
    void *block = api_malloc(size);
    if (!block)
        fail("malloc returned NULL");
    return block;
}

/* Blocks the program still uses while the misuse happens: every size range. */
static const size_t bystander_sizes[] = {1,    16,   24,   48,    64,    100,    128,    500,
                                         1000, 2048, 4000, 9000,  20000, 70000, 140000, 300000};
#define BYSTANDER_COUNT (sizeof bystander_sizes / sizeof bystander_sizes[0])
static unsigned char *bystanders[BYSTANDER_COUNT];

static unsigned char pattern_byte(size_t block, size_t offset)
{
    return (unsigned char)(block * 31 + offset * 7 + 1);
}

static void fill(unsigned char *block, size_t size, size_t seed)
{
    for (size_t offset = 0; offset < size; offset++)
        block[offset] = pattern_byte(seed, offset);
}

static int intact(const unsigned char *block, size_t size, size_t seed)
{
    for (size_t offset = 0; offset < size; offset++)
        if (block[offset] != pattern_byte(seed, offset))
            return 0;
    return 1;
}

static void allocate_bystanders(void)
{
    for (size_t i = 0; i < BYSTANDER_COUNT; i++) {
        bystanders[i] = allocate_or_fail(bystander_sizes[i]);
        fill(bystanders[i], bystander_sizes[i], i);
    }
}

/* After the error was ignored: nothing live was lost and the heap still works. */
static void check_survival(void)
{
    for (size_t i = 0; i < BYSTANDER_COUNT; i++)
        if (!intact(bystanders[i], bystander_sizes[i], i))
            fail("a live block's contents changed");
    enum { CHURN = 400 };
    static unsigned char *churn[CHURN];
    static size_t churn_sizes[CHURN];
    uint32_t random = 12345;
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < CHURN; i++) {
            random = random * 1103515245u + 12345u;
            churn_sizes[i] = (random >> 8) % (i % 50 == 0 ? 200000 : i % 10 == 0 ? 40000 : 3000);
            churn[i] = allocate_or_fail(churn_sizes[i]);
            fill(churn[i], churn_sizes[i], i + 100);
        }
        for (size_t i = 0; i < CHURN; i++) {
            if (!intact(churn[i], churn_sizes[i], i + 100))
                fail("a block allocated after the error was overwritten");
            api_free(churn[i]);
        }
    }
    for (size_t i = 0; i < BYSTANDER_COUNT; i++) {
        if (!intact(bystanders[i], bystander_sizes[i], i))
            fail("a live block's contents changed during later allocations");
        api_free(bystanders[i]);
    }
}

/* Two blocks of `size` that lie next to each other, lower address first. */
static void adjacent_pair(size_t size, unsigned char **lower, unsigned char **upper)
{
    for (int attempt = 0; attempt < 200; attempt++) {
        unsigned char *first = allocate_or_fail(size);
        unsigned char *second = allocate_or_fail(size);
        unsigned char *low = first < second ? first : second;
        unsigned char *high = first < second ? second : first;
        size_t gap = (size_t)(high - low);
        if (gap >= api_usable_size(low) && gap <= api_usable_size(low) + 64) {
            *lower = low;
            *upper = high;
            return;
        }
        /* Not neighbours: keep them allocated so the next pair comes from fresh space. */
    }
    fail("found no two adjacent blocks");
}

static void *free_on_other_thread(void *block)
{
    api_free(block);
    return NULL;
}

static void free_on_new_thread(void *block)
{
    pthread_t thread;
    if (pthread_create(&thread, NULL, free_on_other_thread, block) != 0)
        fail("pthread_create");
    pthread_join(thread, NULL);
}

/* Sizes that reach each kind of block: small size-classed blocks (no header),
 * medium blocks from the sbrk arena (above the 16 KiB small classes, with a
 * mem_io_block header) and mmap'd blocks. */
enum { SMALL_SIZE = 64, MEDIUM_SIZE = 20000, MMAP_SIZE = 2 * MEM_IO_MMAP_THRESHOLD };

static int global_object[16];

static void double_free(size_t size)
{
    void *block = allocate_or_fail(size);
    announce(block);
    api_free(block);
    api_free(opaque_pointer(block));
}

static void misuse_double_free_small(void) { double_free(SMALL_SIZE); }
static void misuse_double_free_medium(void) { double_free(MEDIUM_SIZE); }
static void misuse_double_free_mmap(void) { double_free(MMAP_SIZE); }

static void misuse_double_free_after_other_frees(void)
{
    void *others[16];
    void *block = allocate_or_fail(64);
    for (int i = 0; i < 16; i++)
        others[i] = allocate_or_fail(64);
    announce(block);
    api_free(block);
    for (int i = 0; i < 16; i++)
        api_free(others[i]);
    api_free(opaque_pointer(block));
}

static void misuse_double_free_p_q_p(void)
{
    void *p = allocate_or_fail(48);
    void *q = allocate_or_fail(48);
    announce(p);
    api_free(p);
    api_free(q);
    api_free(opaque_pointer(p));
}

static void misuse_double_free_from_other_thread(void)
{
    void *block = allocate_or_fail(40);
    announce(block);
    api_free(block);
    free_on_new_thread(block);
}

static void misuse_double_free_after_remote_free(void)
{
    void *block = allocate_or_fail(40);
    announce(block);
    free_on_new_thread(block); /* a legitimate free from another thread */
    api_free(opaque_pointer(block));
}

static void misuse_free_stack_address(void)
{
    char on_stack[64];
    announce(on_stack + 16);
    api_free(opaque_pointer(on_stack + 16));
}

static void misuse_free_global(void)
{
    announce(global_object);
    api_free(opaque_pointer(global_object));
}

static void misuse_free_address_one(void)
{
    announce((void *)1);
    api_free(opaque_pointer((void *)1));
}

static void interior_free(size_t size)
{
    char *block = allocate_or_fail(size);
    announce(block + 8);
    api_free(opaque_pointer(block + 8));
}

static void misuse_free_interior_small(void) { interior_free(SMALL_SIZE); }
static void misuse_free_interior_medium(void) { interior_free(MEDIUM_SIZE); }

static void misuse_free_misaligned(void)
{
    char *block = allocate_or_fail(100);
    announce(block + 1);
    api_free(opaque_pointer(block + 1));
}

static char *foreign_mapping(void)
{
    char *mapping = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED)
        fail("mmap");
    return mapping;
}

static void misuse_free_foreign_mmap(void)
{
    char *inside = foreign_mapping() + 4096 + 64;
    announce(inside);
    api_free(opaque_pointer(inside));
}

static void expect_realloc_refused(void *ptr)
{
    announce(ptr);
    void *result = api_realloc(opaque_pointer(ptr), 200);
    if (result != NULL)
        fail("realloc of an invalid pointer returned a block");
}

static void misuse_realloc_stack_address(void)
{
    char on_stack[64];
    expect_realloc_refused(on_stack + 16);
}

static void misuse_realloc_interior(void)
{
    expect_realloc_refused((char *)allocate_or_fail(MEDIUM_SIZE) + 8);
}

static void misuse_realloc_foreign_mmap(void) { expect_realloc_refused(foreign_mapping() + 64); }

static void misuse_realloc_freed(void)
{
    void *block = allocate_or_fail(300);
    api_free(block);
    expect_realloc_refused(block);
}

static void expect_usable_size_refused(void *ptr)
{
    announce(ptr);
    if (api_usable_size(opaque_pointer(ptr)) != 0)
        fail("usable size of an invalid pointer is not 0");
}

static void misuse_usable_size_stack_address(void)
{
    char on_stack[64];
    expect_usable_size_refused(on_stack + 16);
}

static void misuse_usable_size_interior(void)
{
    expect_usable_size_refused((char *)allocate_or_fail(SMALL_SIZE) + 8);
}

static void misuse_usable_size_foreign_mmap(void)
{
    expect_usable_size_refused(foreign_mapping() + 64);
}

/* Overflow from the lower block across the upper block's metadata, then free
 * both: the damage must be reported at one of the two frees. */
static void overflow_into_neighbour(size_t size)
{
    unsigned char *lower, *upper;
    adjacent_pair(size, &lower, &upper);
    announce(lower);
    announce(upper);
    memset(opaque_pointer(lower), 'A', (size_t)(upper - lower) + 8);
    api_free(lower);
    api_free(upper);
}

static void misuse_overflow_medium(void) { overflow_into_neighbour(MEDIUM_SIZE); }

/* Small blocks carry no header, so a live neighbour has no metadata to damage;
 * a free neighbour holds its free-list link in its first bytes. Overflowing
 * into it must be caught when the block is freed or the link is next used. */
static void misuse_overflow_into_free_small(void)
{
    unsigned char *lower, *upper;
    adjacent_pair(SMALL_SIZE, &lower, &upper);
    announce(lower);
    announce(upper);
    api_free(upper);
    memset(opaque_pointer(lower), 'A', (size_t)(upper - lower) + 16);
    api_free(lower);
    void *reused[8];
    for (int i = 0; i < 8; i++)
        reused[i] = allocate_or_fail(SMALL_SIZE);
    for (int i = 0; i < 8; i++)
        api_free(reused[i]);
}

/* An overflow that writes the magic number itself must not pass: the stored
 * magic is keyed with a per-process secret and the block's address. */
static void header_forged_with_magic(size_t size)
{
    unsigned char *block = allocate_or_fail(size);
    announce(block);
    struct mem_io_block *header = (struct mem_io_block *)opaque_pointer(block) - 1;
    header->magic = MEM_IO_MAGIC_NUMBER;
    api_free(block);
}

static void misuse_header_deadbeef_medium(void) { header_forged_with_magic(MEDIUM_SIZE); }
static void misuse_header_deadbeef_mmap(void) { header_forged_with_magic(MMAP_SIZE); }

/* ---- The cases and what each must print ---------------------------------- */

struct misuse_case {
    const char *name;
    void (*commit)(void);
    const char *function;   /* in `mem_io: <function>(): …`, matched as a substring */
    const char *problems;   /* accepted problem wordings, '|'-separated substrings */
    int max_errors;         /* errors the continue run may count (an overflow can show twice) */
};

#define DOUBLE "double free"
#define INVALID "invalid pointer"
#define CORRUPT "corrupt"

static const struct misuse_case cases[] = {
    {"double_free_small", misuse_double_free_small, "free", DOUBLE, 1},
    {"double_free_medium", misuse_double_free_medium, "free", DOUBLE, 1},
    {"double_free_mmap", misuse_double_free_mmap, "free", DOUBLE "|" INVALID, 1},
    {"double_free_after_other_frees", misuse_double_free_after_other_frees, "free", DOUBLE, 1},
    {"double_free_p_q_p", misuse_double_free_p_q_p, "free", DOUBLE, 1},
    {"double_free_from_other_thread", misuse_double_free_from_other_thread, "free", DOUBLE, 1},
    {"double_free_after_remote_free", misuse_double_free_after_remote_free, "free", DOUBLE, 1},
    {"free_stack_address", misuse_free_stack_address, "free", INVALID, 1},
    {"free_global", misuse_free_global, "free", INVALID, 1},
    {"free_address_one", misuse_free_address_one, "free", INVALID, 1},
    {"free_interior_small", misuse_free_interior_small, "free", INVALID, 1},
    {"free_interior_medium", misuse_free_interior_medium, "free", INVALID, 1},
    {"free_misaligned", misuse_free_misaligned, "free", INVALID, 1},
    {"free_foreign_mmap", misuse_free_foreign_mmap, "free", INVALID, 1},
    {"realloc_stack_address", misuse_realloc_stack_address, "realloc", INVALID, 1},
    {"realloc_interior", misuse_realloc_interior, "realloc", INVALID, 1},
    {"realloc_foreign_mmap", misuse_realloc_foreign_mmap, "realloc", INVALID, 1},
    {"realloc_freed", misuse_realloc_freed, "realloc", INVALID "|" DOUBLE "|freed", 1},
    {"usable_size_stack_address", misuse_usable_size_stack_address, "usable_size", INVALID, 1},
    {"usable_size_interior", misuse_usable_size_interior, "usable_size", INVALID, 1},
    {"usable_size_foreign_mmap", misuse_usable_size_foreign_mmap, "usable_size", INVALID, 1},
    {"overflow_medium", misuse_overflow_medium, "free", CORRUPT, 2},
    {"overflow_into_free_small", misuse_overflow_into_free_small, "", CORRUPT, 2},
    {"header_deadbeef_medium", misuse_header_deadbeef_medium, "free", CORRUPT, 1},
    {"header_deadbeef_mmap", misuse_header_deadbeef_mmap, "free", CORRUPT, 1},
};

static const struct misuse_case *find_case(const char *name)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (strcmp(cases[i].name, name) == 0)
            return &cases[i];
    return NULL;
}

static int run_child(const struct misuse_case *misuse)
{
    allocate_bystanders();
    misuse->commit();
    /* Reached only when the error mode is continue. */
    check_survival();
    struct mem_io_stats stats;
    mem_io_get_stats(&stats);
    printf("stats errors=%llu\n", (unsigned long long)stats.errors);
    mem_io_log_trace(); /* on stderr: its "mem_io: errors=N" line must show the count too */
    printf("survived\n");
    return 0;
}

/* ---- The driver: run the child, judge how it ended and what it printed --- */

struct child_result {
    int status;
    char out[1 << 16];
    char err[1 << 16];
};

static void read_all(FILE *file, char *text, size_t capacity)
{
    rewind(file);
    size_t length = fread(text, 1, capacity - 1, file);
    text[length] = '\0';
    fclose(file);
}

static int run_case_process(const char *self, const char *name, int continue_mode,
                            struct child_result *result)
{
    FILE *out = tmpfile(), *err = tmpfile();
    if (!out || !err) {
        perror("tmpfile");
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        dup2(fileno(out), STDOUT_FILENO);
        dup2(fileno(err), STDERR_FILENO);
        if (continue_mode)
            setenv("MEM_IO_ON_ERROR", "continue", 1);
        else
            unsetenv("MEM_IO_ON_ERROR");
        execl(self, self, "--child", name, (char *)NULL);
        _exit(127);
    }
    if (waitpid(pid, &result->status, 0) != pid) {
        perror("waitpid");
        return -1;
    }
    read_all(out, result->out, sizeof result->out);
    read_all(err, result->err, sizeof result->err);
    return 0;
}

static int matches_one_of(const char *text, const char *alternatives)
{
    char word[64];
    while (*alternatives) {
        size_t length = strcspn(alternatives, "|");
        snprintf(word, sizeof word, "%.*s", (int)length, alternatives);
        if (strstr(text, word))
            return 1;
        alternatives += length + (alternatives[length] == '|');
    }
    return 0;
}

static int is_culprit(const char *stdout_text, uintptr_t address)
{
    for (const char *at = stdout_text; (at = strstr(at, "culprit ptr=")) != NULL; at++)
        if ((uintptr_t)strtoull(at + strlen("culprit ptr="), NULL, 16) == address)
            return 1;
    return 0;
}

/* Checks every `mem_io: ` line on stderr; returns how many there were, or -1. */
static int check_error_lines(const struct misuse_case *misuse, const struct child_result *result,
                             const char *mode)
{
    int count = 0;
    for (const char *line = result->err, *next; *line; line = next) {
        size_t length = strcspn(line, "\n");
        next = line + length + (line[length] == '\n');
        char text[512];
        snprintf(text, sizeof text, "%.*s", (int)length, line);
        const char *call_end = strstr(text, "(): ");
        if (strncmp(text, "mem_io: ", 8) != 0 || !call_end)
            continue; /* not an error report (mem_io_log_trace's lines have no "(): ") */
        count++;
        const char *ptr = strstr(text, "(ptr=0x");
        if (!ptr || text[length - 1] != ')') {
            fprintf(stderr, "%s: %s run: malformed error line: %s\n", misuse->name, mode, text);
            return -1;
        }
        char function[128];
        snprintf(function, sizeof function, "%.*s", (int)(call_end - text - 8), text + 8);
        if (!strstr(function, misuse->function)) {
            fprintf(stderr, "%s: %s run: error names function '%s', expected '%s': %s\n",
                    misuse->name, mode, function, misuse->function, text);
            return -1;
        }
        if (!matches_one_of(call_end, misuse->problems)) {
            fprintf(stderr, "%s: %s run: problem is not one of '%s': %s\n", misuse->name, mode,
                    misuse->problems, text);
            return -1;
        }
        uintptr_t address = (uintptr_t)strtoull(ptr + strlen("(ptr="), NULL, 16);
        if (!is_culprit(result->out, address)) {
            fprintf(stderr, "%s: %s run: error names ptr=%#lx, not the misused address: %s\n",
                    misuse->name, mode, (unsigned long)address, text);
            return -1;
        }
        printf("%s: %s run printed: %s\n", misuse->name, mode, text);
    }
    return count;
}

static int judge_abort_run(const struct misuse_case *misuse, const struct child_result *result)
{
    int lines = check_error_lines(misuse, result, "default");
    if (lines < 0)
        return 1;
    if (!WIFSIGNALED(result->status) || WTERMSIG(result->status) != SIGABRT) {
        fprintf(stderr, "%s: default run did not die of SIGABRT (status %#x)\nstdout:\n%s\nstderr:\n%s\n",
                misuse->name, result->status, result->out, result->err);
        return 1;
    }
    if (lines != 1) {
        fprintf(stderr, "%s: default run printed %d mem_io error lines, expected 1\n%s\n",
                misuse->name, lines, result->err);
        return 1;
    }
    return 0;
}

static int judge_continue_run(const struct misuse_case *misuse, const struct child_result *result)
{
    int lines = check_error_lines(misuse, result, "continue");
    if (lines < 0)
        return 1;
    if (!WIFEXITED(result->status) || WEXITSTATUS(result->status) != 0 ||
        !strstr(result->out, "survived")) {
        fprintf(stderr, "%s: continue run did not survive (status %#x)\nstdout:\n%s\nstderr:\n%s\n",
                misuse->name, result->status, result->out, result->err);
        return 1;
    }
    const char *counted = strstr(result->out, "stats errors=");
    unsigned long long errors = counted ? strtoull(counted + 13, NULL, 10) : 0;
    const char *traced = strstr(result->err, "mem_io: errors=");
    unsigned long long traced_errors = traced ? strtoull(traced + 15, NULL, 10) : 0;
    if (lines < 1 || lines > misuse->max_errors || errors != (unsigned long long)lines ||
        traced_errors != errors) {
        fprintf(stderr,
                "%s: continue run printed %d error lines; mem_io_get_stats counted %llu errors, "
                "mem_io_log_trace showed %llu\n%s\n",
                misuse->name, lines, errors, traced_errors, result->err);
        return 1;
    }
    printf("%s: continue run survived; %llu error counted by mem_io_get_stats and shown by "
           "mem_io_log_trace\n", misuse->name, errors);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--child") == 0) {
        const struct misuse_case *misuse = find_case(argv[2]);
        return misuse ? run_child(misuse) : 2;
    }
    const struct misuse_case *misuse = argc == 2 ? find_case(argv[1]) : NULL;
    if (!misuse) {
        fprintf(stderr, "usage: %s CASE\ncases:", argv[0]);
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            fprintf(stderr, " %s", cases[i].name);
        fputc('\n', stderr);
        return 2;
    }
    static struct child_result result;
    char self[4096];
    ssize_t length = readlink("/proc/self/exe", self, sizeof self - 1);
    if (length <= 0)
        return perror("readlink /proc/self/exe"), 1;
    self[length] = '\0';
    int failed = 0;
    if (run_case_process(self, misuse->name, 0, &result) != 0)
        return 1;
    failed |= judge_abort_run(misuse, &result);
    if (run_case_process(self, misuse->name, 1, &result) != 0)
        return 1;
    failed |= judge_continue_run(misuse, &result);
    printf("%s: %s through the %s\n", misuse->name, failed ? "FAILED" : "passed", API_NAMES);
    return failed;
}
