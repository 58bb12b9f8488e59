/* libmem_io_recorder.so: an LD_PRELOAD library that records every allocation call of an
 * unmodified program while it keeps running on glibc's malloc.
 *
 * Each event gets a number from one global atomic counter. The number is taken after an
 * allocation returns and before a free is called, so for any address the free of one block
 * always numbers below the allocation that reuses it, whichever threads made the calls. A
 * realloc takes two numbers: one before the call (the old address is released) and one after
 * (the new address is taken). record.py merges the per-thread streams by number and maps
 * addresses to block ids.
 *
 * Events go to per-thread buffers obtained with mmap and are written with write(2): nothing
 * here allocates through the traced malloc. The raw file layout is in raw_format.h.
 *
 * Output: MEM_IO_RECORD_PREFIX=P makes every process image that loads the library write
 * P.<pid> (P.<pid>.1, P.<pid>.2, … if an exec'd image finds its pid's file taken). Without the
 * variable the library only forwards calls. A forked child writes its own file from the fork
 * on; an exec'd program is recorded too (LD_PRELOAD is inherited), into a new file. */
#define _GNU_SOURCE
#include "raw_format.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* glibc's own entry points: calling them instead of dlsym'd pointers keeps start-up free of
 * allocations. glibc 2.36 has no __libc_posix_memalign; posix_memalign is built on memalign. */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void *__libc_valloc(size_t size);
extern void *__libc_pvalloc(size_t size);
extern void __libc_free(void *ptr);

#define EVENTS_PER_BUFFER 32768 /* 1.25 MiB per thread */
#define PAGE_SIZE 4096u          /* the unit of the trace's TOUCHED field (workloads/FORMAT.md) */
#define MINCORE_WINDOW 256u      /* pages asked about per mincore call */
#define HIGH_DESCRIPTOR 900
#define TLS __attribute__((tls_model("initial-exec"))) _Thread_local

struct thread_log {
    atomic_flag busy; /* held by the owner while appending, by the flusher while writing */
    uint32_t count;
    uint32_t thread;
    struct thread_log *next_live; /* all logs of this process, for the flush at exit */
    struct thread_log *next_free; /* logs of exited threads, ready for new threads */
    struct raw_chunk_header header;
    struct raw_event events[EVENTS_PER_BUFFER];
};

/* write_log() writes header and events with one write(2), so that a chunk is never split */
_Static_assert(offsetof(struct thread_log, events) == offsetof(struct thread_log, header) + sizeof(struct raw_chunk_header),
               "the chunk header must sit right before the events");

enum state { UNINITIALISED, INITIALISING, RECORDING, PASSTHROUGH };

static _Atomic int state = UNINITIALISED;
static _Atomic uint64_t next_sequence = 1;
static _Atomic uint32_t next_thread = 0;
static int output_fd = -1;
static atomic_bool exited; /* after the exit flush every event is written at once */
static char output_prefix[PATH_MAX - 32];
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER; /* logs lists, output_fd */
static struct thread_log *live_logs;
static struct thread_log *free_logs;
static pthread_key_t thread_exit_key;

static TLS struct thread_log *my_log;
static TLS bool inside_recorder; /* true while recorder code runs: its own calls are not events */

static void report(const char *message) {
    static const char prefix[] = "mem_io recorder: ";
    ssize_t ignored = write(STDERR_FILENO, prefix, sizeof prefix - 1);
    ignored = write(STDERR_FILENO, message, strlen(message));
    ignored = write(STDERR_FILENO, "\n", 1);
    (void)ignored;
}

static size_t format_decimal(char *out, uint64_t value) {
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    for (size_t i = 0; i < n; i++) out[i] = digits[n - 1 - i];
    return n;
}

static bool write_fully(int fd, const void *data, size_t size) {
    const char *p = data;
    while (size) {
        ssize_t n = write(fd, p, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        p += n;
        size -= (size_t)n;
    }
    return true;
}

/* Opens PREFIX.<pid>, or PREFIX.<pid>.<n> when an earlier image of this pid (before an exec)
 * already wrote the first. Called with registry_lock held or before any thread exists. */
static void open_output(void) {
    char path[PATH_MAX];
    size_t prefix_length = strlen(output_prefix);
    memcpy(path, output_prefix, prefix_length);
    path[prefix_length] = '.';
    size_t pid_end = prefix_length + 1 + format_decimal(path + prefix_length + 1, (uint64_t)getpid());
    for (uint64_t attempt = 0; attempt < 1000; attempt++) {
        size_t end = pid_end;
        if (attempt) {
            path[end++] = '.';
            end += format_decimal(path + end, attempt);
        }
        path[end] = '\0';
        output_fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
        if (output_fd >= 0 || errno != EEXIST) break;
    }
    if (output_fd >= 0) {
        /* Shells and servers dup2() onto low descriptors; a high one is out of their way. */
        int high = fcntl(output_fd, F_DUPFD_CLOEXEC, HIGH_DESCRIPTOR);
        if (high >= 0) {
            close(output_fd);
            output_fd = high;
        }
    }
    if (output_fd < 0) {
        report("cannot create the output file; recording is off for this process");
        report(path);
        atomic_store(&state, PASSTHROUGH);
        return;
    }
    struct raw_file_header header = {.magic = RAW_FILE_MAGIC, .version = RAW_VERSION, .pid = (uint32_t)getpid()};
    if (!write_fully(output_fd, &header, sizeof header)) report("cannot write the output file header");
}

static void write_log(struct thread_log *log) {
    if (log->count == 0 || output_fd < 0) return;
    log->header.magic = RAW_CHUNK_MAGIC;
    log->header.thread = log->thread;
    log->header.count = log->count;
    pthread_mutex_lock(&registry_lock);
    if (!write_fully(output_fd, &log->header, sizeof log->header + log->count * sizeof(struct raw_event)))
        report("write to the output file failed; the recording is incomplete");
    pthread_mutex_unlock(&registry_lock);
    log->count = 0;
}

static void lock_log(struct thread_log *log) {
    while (atomic_flag_test_and_set_explicit(&log->busy, memory_order_acquire)) {
    }
}

static void unlock_log(struct thread_log *log) { atomic_flag_clear_explicit(&log->busy, memory_order_release); }

/* pthread key destructor: the thread ends, so its events go out and its buffer is recycled. */
static void thread_exit(void *value) {
    struct thread_log *log = value;
    bool was_inside = inside_recorder;
    inside_recorder = true;
    lock_log(log);
    write_log(log);
    unlock_log(log);
    pthread_mutex_lock(&registry_lock);
    log->next_free = free_logs;
    free_logs = log;
    pthread_mutex_unlock(&registry_lock);
    my_log = NULL;
    inside_recorder = was_inside;
}

static struct thread_log *new_log(void) {
    pthread_mutex_lock(&registry_lock);
    struct thread_log *log = free_logs;
    if (log) free_logs = log->next_free;
    pthread_mutex_unlock(&registry_lock);
    if (!log) {
        void *memory = mmap(NULL, sizeof *log, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (memory == MAP_FAILED) return NULL;
        log = memory;
        atomic_flag_clear(&log->busy);
        pthread_mutex_lock(&registry_lock);
        log->next_live = live_logs;
        live_logs = log;
        pthread_mutex_unlock(&registry_lock);
    }
    log->count = 0;
    log->thread = atomic_fetch_add(&next_thread, 1);
    pthread_setspecific(thread_exit_key, log);
    return log;
}

static void flush_all_logs(void) {
    pthread_mutex_lock(&registry_lock);
    struct thread_log *logs = live_logs;
    pthread_mutex_unlock(&registry_lock);
    for (struct thread_log *log = logs; log; log = log->next_live) {
        lock_log(log);
        write_log(log);
        unlock_log(log);
    }
}

static void before_fork(void) {
    if (atomic_load(&state) != RECORDING) return;
    /* no other thread may be half-way through a write or a registry change at the fork */
    pthread_mutex_lock(&registry_lock);
}

static void after_fork_in_parent(void) {
    if (atomic_load(&state) != RECORDING) return;
    pthread_mutex_unlock(&registry_lock);
}

/* The child keeps only the forking thread. The parent writes the events buffered before the
 * fork, so the child drops its copies and starts its own file. */
static void after_fork_in_child(void) {
    if (atomic_load(&state) != RECORDING) return;
    pthread_mutex_init(&registry_lock, NULL);
    struct thread_log *mine = my_log;
    live_logs = NULL;
    free_logs = NULL;
    atomic_store(&next_thread, 0);
    if (mine) {
        atomic_flag_clear(&mine->busy);
        mine->count = 0;
        mine->thread = atomic_fetch_add(&next_thread, 1);
        mine->next_live = NULL;
        live_logs = mine;
    }
    close(output_fd);
    output_fd = -1;
    open_output();
}

static void at_exit_flush(void) {
    bool was_inside = inside_recorder;
    inside_recorder = true;
    flush_all_logs();
    struct raw_chunk_header marker = {.magic = RAW_EXIT_MAGIC};
    pthread_mutex_lock(&registry_lock);
    if (output_fd >= 0) write_fully(output_fd, &marker, sizeof marker);
    pthread_mutex_unlock(&registry_lock);
    exited = true; /* frees from later exit handlers are written one by one */
    inside_recorder = was_inside;
}

static void initialise(void) {
    int expected = UNINITIALISED;
    if (!atomic_compare_exchange_strong(&state, &expected, INITIALISING)) {
        while (atomic_load(&state) == INITIALISING) {
        }
        return;
    }
    const char *prefix = getenv(RAW_PREFIX_VARIABLE);
    if (!prefix || !*prefix) {
        atomic_store(&state, PASSTHROUGH);
        return;
    }
    if (strlen(prefix) >= sizeof output_prefix) {
        report(RAW_PREFIX_VARIABLE " is too long; recording is off");
        atomic_store(&state, PASSTHROUGH);
        return;
    }
    strcpy(output_prefix, prefix);
    if (pthread_key_create(&thread_exit_key, thread_exit) != 0) {
        report("cannot create a thread key; recording is off");
        atomic_store(&state, PASSTHROUGH);
        return;
    }
    pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
    atexit(at_exit_flush);
    atomic_store(&state, RECORDING); /* open_output may turn it back to PASSTHROUGH */
    open_output();
}

/* Runs at load time so that the atfork and exit handlers exist even in programs whose
 * first allocation comes late; initialise() also runs from the first call if that is earlier. */
__attribute__((constructor)) static void initialise_at_load(void) {
    inside_recorder = true;
    if (atomic_load(&state) == UNINITIALISED) initialise();
    inside_recorder = false;
}

/* The sequence number is taken here, so callers call this after an allocation returned and
 * before a free is made. */
static void record(uint32_t op, const void *pointer, uint64_t size, uint64_t extra, uint32_t flags) {
    int current = atomic_load_explicit(&state, memory_order_acquire);
    if (current != RECORDING) {
        if (current != UNINITIALISED) return;
        inside_recorder = true;
        initialise();
        inside_recorder = false;
        if (atomic_load(&state) != RECORDING) return;
    }
    inside_recorder = true;
    int saved_errno = errno; /* the program sees the errno of its own call, not of our writes */
    struct thread_log *log = my_log;
    if (!log) {
        log = my_log = new_log();
        if (!log) {
            errno = saved_errno;
            inside_recorder = false;
            return;
        }
    }
    lock_log(log);
    struct raw_event *event = &log->events[log->count++];
    event->sequence = atomic_fetch_add_explicit(&next_sequence, 1, memory_order_relaxed);
    event->address = (uint64_t)(uintptr_t)pointer;
    event->size = size;
    event->extra = extra;
    event->op = op;
    event->flags = flags;
    if (log->count == EVENTS_PER_BUFFER || exited) write_log(log);
    unlock_log(log);
    errno = saved_errno;
    inside_recorder = false;
}

/* How many of the 4 KiB pages that a block of at least one page overlaps are resident, i.e. were
 * touched since they were mapped: the replay touches as many instead of every page (a program
 * often writes only part of a large buffer, and glibc maps such blocks afresh each time).
 * Exact for a block glibc mmapped for itself; for a heap block an upper bound, since its pages
 * may hold neighbours. False when the block is smaller than a page or mincore fails. */
static bool resident_pages(void *pointer, uint64_t *pages) {
    size_t usable = malloc_usable_size(pointer);
    if (usable < PAGE_SIZE) return false;
    uintptr_t start = (uintptr_t)pointer & ~(uintptr_t)(PAGE_SIZE - 1);
    uintptr_t end = ((uintptr_t)pointer + usable + PAGE_SIZE - 1) & ~(uintptr_t)(PAGE_SIZE - 1);
    unsigned char resident[MINCORE_WINDOW];
    uint64_t count = 0;
    for (uintptr_t at = start; at < end; at += (uintptr_t)MINCORE_WINDOW * PAGE_SIZE) {
        size_t length = end - at < (uintptr_t)MINCORE_WINDOW * PAGE_SIZE ? end - at : (size_t)MINCORE_WINDOW * PAGE_SIZE;
        if (mincore((void *)at, length, resident) != 0) return false;
        for (size_t i = 0; i < length / PAGE_SIZE; i++) count += resident[i] & 1;
    }
    *pages = count;
    return true;
}

/* A free, free_sized or realloc's release, with the block's resident pages when known; called
 * before the block is given back. */
static void record_release(uint32_t op, void *pointer, uint64_t size) {
    uint64_t pages = 0;
    bool measured = resident_pages(pointer, &pages);
    record(op, pointer, size, pages, measured ? RAW_FLAG_RESIDENT : 0);
}

#define RECORDING_NOW() (!inside_recorder && atomic_load_explicit(&state, memory_order_relaxed) != PASSTHROUGH)

void *malloc(size_t size) {
    void *result = __libc_malloc(size);
    if (result && RECORDING_NOW()) record(RAW_MALLOC, result, size, 0, 0);
    return result;
}

void *calloc(size_t count, size_t size) {
    void *result = __libc_calloc(count, size);
    if (result && RECORDING_NOW()) record(RAW_CALLOC, result, size, count, 0);
    return result;
}

void free(void *pointer) {
    if (pointer && RECORDING_NOW()) record_release(RAW_FREE, pointer, 0);
    __libc_free(pointer);
}

void *realloc(void *pointer, size_t size) {
    if (!pointer) return malloc(size);
    if (size == 0) { /* glibc frees the block and returns NULL */
        free(pointer);
        return NULL;
    }
    bool recording = RECORDING_NOW();
    if (recording) record_release(RAW_REALLOC_RELEASE, pointer, 0);
    void *result = __libc_realloc(pointer, size);
    /* A failed realloc leaves the block in place: record that as a realloc to the same address,
     * so the release above is undone and the block keeps its id. */
    if (recording) record(RAW_REALLOC_TAKE, result ? result : pointer, size, result ? 0 : 1, 0);
    return result;
}

static void *aligned(size_t alignment, size_t size, uint32_t op) {
    void *result = __libc_memalign(alignment, size);
    if (result && RECORDING_NOW()) record(op, result, size, alignment, 0);
    return result;
}

void *aligned_alloc(size_t alignment, size_t size) { return aligned(alignment, size, RAW_ALIGNED); }

void *memalign(size_t alignment, size_t size) { return aligned(alignment, size, RAW_ALIGNED); }

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment % sizeof(void *) != 0 || (alignment & (alignment - 1)) != 0 || alignment == 0) return EINVAL;
    int saved_errno = errno;
    void *result = aligned(alignment, size, RAW_ALIGNED);
    if (!result) {
        errno = saved_errno;
        return ENOMEM;
    }
    *out = result;
    return 0;
}

void *valloc(size_t size) {
    void *result = __libc_valloc(size);
    if (result && RECORDING_NOW()) record(RAW_ALIGNED, result, size, (uint64_t)sysconf(_SC_PAGESIZE), 0);
    return result;
}

void *pvalloc(size_t size) {
    void *result = __libc_pvalloc(size);
    if (result && RECORDING_NOW()) record(RAW_ALIGNED, result, size, (uint64_t)sysconf(_SC_PAGESIZE), 0);
    return result;
}

/* C23's sized frees (glibc ≥ 2.39 and programs built against newer headers). */
void free_sized(void *pointer, size_t size) {
    if (pointer && RECORDING_NOW()) record_release(RAW_FREE_SIZED, pointer, size);
    __libc_free(pointer);
}

void free_aligned_sized(void *pointer, size_t alignment, size_t size) {
    (void)alignment;
    free_sized(pointer, size);
}
