/* What the drop-in's case programs share: the CHECK macro that counts failed checks, and the
 * main() that runs the one case named on the command line:
 *   PROGRAM CASE     run it; exit 0 when every check held, 1 otherwise
 *   PROGRAM --list   print the case names, one a line
 * Include after api_under_test.h. */
#ifndef MEM_IO_CASE_RUNNER_H
#define MEM_IO_CASE_RUNNER_H

#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(condition, ...)                                              \
    do {                                                                   \
        if (!(condition)) {                                                \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #condition); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
            failures++;                                                    \
        }                                                                  \
    } while (0)

struct test_case {
    const char *name;
    void (*run)(void);
};

static int run_named_case(int argc, char **argv, const struct test_case *cases, size_t count)
{
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (size_t i = 0; i < count; i++)
            puts(cases[i].name);
        return 0;
    }
    for (size_t i = 0; argc == 2 && i < count; i++) {
        if (strcmp(argv[1], cases[i].name) != 0)
            continue;
        cases[i].run();
        printf("%s: %s through the %s\n", cases[i].name, failures ? "FAILED" : "passed", API_NAMES);
        return failures ? 1 : 0;
    }
    fprintf(stderr, "usage: %s CASE (one of the names printed by --list)\n", argv[0]);
    return 2;
}

#endif
