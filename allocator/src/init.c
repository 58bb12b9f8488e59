/* Initialisation, at load time or from the first call if that comes earlier, and
 * the fork and thread-exit hooks registered right after it. */
#include "internal.h"

#include <sys/single_threaded.h>

/* INIT_NONE, INIT_DONE, or the pid of the process one of whose threads is initialising.
 * The pid matters after fork(): a child forked while another thread was initialising
 * inherits a "running" state whose thread does not exist there, and must take over. */
enum { INIT_NONE = 0, INIT_DONE = -1 };
static _Atomic long init_state = INIT_NONE;
static bool atfork_registered;

/* glibc's lock of its list of open FILEs, exported but declared in no public header. Weak:
 * another C library simply has none. */
extern void _IO_list_lock(void) __attribute__((weak));
extern void _IO_list_unlock(void) __attribute__((weak));

/* fork() holds every allocator lock across the fork, so that the child finds each structure
 * whole and may allocate at once. Two rules, both glibc's own malloc's:
 *  - a single-threaded process takes no lock: nothing else can hold one, and a fork from a
 *    signal handler that interrupted malloc (or fork itself) must not wait for the lock its
 *    own thread holds (glibc's tst-mallocfork and tst-mallocfork2). The forking thread is the
 *    only one, so it alone reads fork_locked;
 *  - glibc's fork takes its stdio list lock after the prepare handlers, and fflush(NULL) holds
 *    that lock while it waits for a FILE's lock, whose holder may be inside malloc (getline
 *    growing its buffer): holding our locks while waiting for the list lock closed that
 *    circle (tst-malloc-fork-deadlock). So the list lock comes first, as glibc orders its own
 *    malloc's locks; the lock is recursive, so glibc's fork takes it again at once. */
static bool fork_locked;

static void fork_prepare(void)
{
    fork_locked = !__libc_single_threaded;
    if (!fork_locked)
        return;
    if (_IO_list_lock)
        _IO_list_lock();
    pthread_mutex_lock(&heaps.lock);
    pthread_mutex_lock(&pool.lock);
    for (unsigned i = 0; i < ARENA_COUNT; i++)
        pthread_mutex_lock(&arena_locks[i].lock);
    pthread_mutex_lock(&large.lock);
}

/* glibc releases its hold on the list lock before this runs, and resets it in the child. */
static void fork_parent(void)
{
    if (!fork_locked)
        return;
    pthread_mutex_unlock(&large.lock);
    for (unsigned i = ARENA_COUNT; i-- > 0;)
        pthread_mutex_unlock(&arena_locks[i].lock);
    pthread_mutex_unlock(&pool.lock);
    pthread_mutex_unlock(&heaps.lock);
    if (_IO_list_unlock)
        _IO_list_unlock();
}

/* A lock that spins a little before it sleeps, as PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP makes. */
static void mutex_init_adaptive(pthread_mutex_t *lock)
{
    pthread_mutexattr_t spin_first;
    pthread_mutexattr_init(&spin_first);
    pthread_mutexattr_settype(&spin_first, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(lock, &spin_first);
    pthread_mutexattr_destroy(&spin_first);
}

/* In the child only this thread exists: the locks are made anew (in a single-threaded fork
 * they were not taken, and the interrupted call they may guard never resumes safely anyway).
 * The heaps of the parent's other threads are left as they are, never adopted: those threads
 * use them without a lock, so one may have been halfway through changing its page lists when
 * the fork copied it. Their blocks that the child frees go to their remote lists and stay
 * there: the child leaks at most what those heaps held, once, instead of risking a torn heap. */
static void fork_child(void)
{
    atfork_registered = true;  /* what a child that must finish the initialisation checks */
    mutex_init_adaptive(&heaps.lock);
    mutex_init_adaptive(&pool.lock);
    for (unsigned i = 0; i < ARENA_COUNT; i++)
        mutex_init_adaptive(&arena_locks[i].lock);
    mutex_init_adaptive(&large.lock);
}

/* Idempotent, so that a forked child can finish what its parent's thread began: blocks
 * sealed with the secret may already exist, and the small range may be placed. */
static void init_once(void)
{
    if (!mem_io_secret)
        mem_io_secret = os_random_secret();
    options_init();
    if (!LOAD(small_base))
        small_range_init();
    if (!atomic_load_explicit(&slices_span, memory_order_acquire))
        arena_slices_init();
    if (secure_mode)
        secure_init();
    for (size_t i = 0; i < sizeof room_probes / sizeof room_probes[0]; i++)
        if (room_probes[i].at) {  /* the holes are found: nothing of them stays mapped */
            os_unmap(room_probes[i].at, room_probes[i].len);
            room_probes[i].at = NULL;
        }
}

/* Registered after the core is ready, because they may allocate (which then works). */
static void init_hooks(void)
{
    if (!atfork_registered) {
        pthread_atfork(fork_prepare, fork_parent, fork_child);
        atfork_registered = true;
    }
    if (!atomic_load(&heap_key_ready) && pthread_key_create(&heap_key, heap_thread_exit) == 0) {
        atomic_store(&heap_key_ready, true);
        struct heap *h = tls_heap;
        if (h != &empty_heap && h != &dead_heap)
            pthread_setspecific(heap_key, h);
    }
}

/* Set in the initialising thread once the core works: the hooks it then registers may
 * allocate (re-entering here), while other threads wait until the hooks are in place, so
 * that every heap is registered with the thread-exit key. */
static __thread bool tls_initialising __attribute__((tls_model("initial-exec")));

static void run_init(void)
{
    init_once();
    tls_initialising = true;
    init_hooks();
    tls_initialising = false;
    atomic_store_explicit(&init_state, INIT_DONE, memory_order_release);
}

static void ensure_init_slow(void)
{
    if (tls_initialising)
        return;
    long self = (long)getpid();
    long seen = INIT_NONE;
    if (atomic_compare_exchange_strong(&init_state, &seen, self)) {
        run_init();
        return;
    }
    while ((seen = atomic_load_explicit(&init_state, memory_order_acquire)) != INIT_DONE) {
        /* Initialised by a thread of another process: we are a child forked meanwhile. */
        if (seen != self && atomic_compare_exchange_strong(&init_state, &seen, self)) {
            run_init();
            return;
        }
        sched_yield();
    }
}

static inline void ensure_init(void)
{
    if (unlikely(atomic_load_explicit(&init_state, memory_order_acquire) != INIT_DONE))
        ensure_init_slow();
}

/* Also at load time, while the process normally has one thread, so the fork handlers are in
 * place before threads start. When the first call came from a thread racing a fork() in
 * another, that fork's child could inherit our locks as the parent's threads held them, with
 * the handlers not run (as glibc's fork appears to skip handlers registered during it): 1 run
 * in 120 of fork_while_threads_allocate under TSan, none in 400 since. */
__attribute__((constructor)) static void init_at_load(void)
{
    ensure_init();
}
