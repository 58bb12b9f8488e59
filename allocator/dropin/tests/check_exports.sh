#!/bin/sh
# check_exports.sh LIBMEM_IO: the library exports the whole set a drop-in
# malloc must replace (glibc's manual, "Replacing malloc", the __libc_* names,
# every C++ operator new/delete) and does not replace reallocarray or strdup.
set -eu
library=${1:?usage: check_exports.sh LIBMEM_IO}
exported=$(nm -D --defined-only "$library" | awk '$2 ~ /^[TtWwi]$/ { print $3 }' | sed 's/@.*//')
missing=0
for symbol in \
    malloc free calloc realloc aligned_alloc posix_memalign memalign valloc pvalloc \
    malloc_usable_size free_sized free_aligned_sized cfree \
    __libc_malloc __libc_free __libc_calloc __libc_realloc __libc_memalign __libc_valloc \
    __libc_pvalloc \
    _Znwm _Znam _ZnwmRKSt9nothrow_t _ZnamRKSt9nothrow_t \
    _ZnwmSt11align_val_t _ZnamSt11align_val_t \
    _ZnwmSt11align_val_tRKSt9nothrow_t _ZnamSt11align_val_tRKSt9nothrow_t \
    _ZdlPv _ZdaPv _ZdlPvRKSt9nothrow_t _ZdaPvRKSt9nothrow_t _ZdlPvm _ZdaPvm \
    _ZdlPvSt11align_val_t _ZdaPvSt11align_val_t \
    _ZdlPvSt11align_val_tRKSt9nothrow_t _ZdaPvSt11align_val_tRKSt9nothrow_t \
    _ZdlPvmSt11align_val_t _ZdaPvmSt11align_val_t \
    mem_io_malloc mem_io_free mem_io_get_stats mem_io_log_trace mem_io_stack_trace \
    mem_io_stack_trace_full; do
    if ! printf '%s\n' "$exported" | grep -qx -- "$symbol"; then
        echo "check_exports.sh: $library does not export $symbol" >&2
        missing=1
    fi
done
for symbol in reallocarray strdup strndup; do
    if printf '%s\n' "$exported" | grep -qx -- "$symbol"; then
        echo "check_exports.sh: $library must not replace $symbol (glibc's calls our malloc)" >&2
        missing=1
    fi
done
[ "$missing" -eq 0 ] && echo "check_exports.sh: all $(printf '%s\n' "$exported" | wc -l) exports present, none forbidden"
exit "$missing"
