// Runs a function with file descriptor 2 redirected to a temporary file and returns what it
// wrote: the allocator's dumps and error lines go to fd 2 with write(2).
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <unistd.h>

inline std::string capture_stderr(const std::function<void()> &body)
{
    fflush(stderr);
    FILE *sink = tmpfile();
    int saved = dup(2);
    dup2(fileno(sink), 2);
    body();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    std::string text;
    rewind(sink);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, sink)) > 0)
        text.append(chunk, n);
    fclose(sink);
    return text;
}

inline std::string hex(const void *p)
{
    char buf[32];
    snprintf(buf, sizeof buf, "0x%lx", reinterpret_cast<unsigned long>(p));
    return buf;
}
