#!/usr/bin/env bash
# run_program.sh PROGRAM LIBMEM_IO
# Runs a real, unmodified program twice: on glibc's malloc (the reference) and
# with LD_PRELOAD=LIBMEM_IO. Passes when
#   - both runs succeed and print the same stdout (and that stdout is sane);
#   - mem_io really served the preloaded run: with MEM_IO_STATS=FILE every
#     process that ran on it appended `mem_io: stats: … malloc_calls=N …
#     errors=0` to FILE at exit, at least MIN_PROCESSES of them, the busiest
#     with N >= MIN_MALLOCS;
#   - mem_io reported no error line.
# PROGRAM: python perl sqlite git bash_pipeline gcc
set -euo pipefail

program=${1:?usage: run_program.sh PROGRAM LIBMEM_IO}
library=${2:?usage: run_program.sh PROGRAM LIBMEM_IO}
here=$(cd "$(dirname "$0")" && pwd)
[[ -f $library ]] || { echo "run_program.sh: no library at $library (build target mem_io_shared)" >&2; exit 1; }
library=$(realpath "$library") # the programs change directory
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run=0 # each run gets fresh scratch files

run_python() {
    PYTHONMALLOC=malloc /usr/bin/python3 "$here/workload.py"
}

run_perl() {
    perl "$here/workload.pl"
}

run_sqlite() {
    local database=$work/$run.sqlite
    {
        echo "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, weight INTEGER);"
        echo "BEGIN;"
        for ((i = 1; i <= 3000; i++)); do
            echo "INSERT INTO item(name, weight) VALUES('item-$i-$((i * 7919 % 1000))', $((i * 37 % 101)));"
        done
        echo "COMMIT;"
        echo "CREATE INDEX by_weight ON item(weight);"
        echo "SELECT count(*), sum(weight), max(length(name)) FROM item;"
        echo "SELECT weight % 5, count(*), sum(id) FROM item GROUP BY weight % 5 ORDER BY 1;"
        echo "SELECT a.id, b.id FROM item a JOIN item b ON a.weight = b.weight AND a.id < b.id"
        echo "  WHERE a.id % 500 = 0 ORDER BY a.id, b.id LIMIT 5;"
        echo "UPDATE item SET name = upper(name) WHERE weight > 50;"
        echo "DELETE FROM item WHERE id % 3 = 0;"
        echo "SELECT count(*), group_concat(name, '|') FROM (SELECT name FROM item ORDER BY name DESC LIMIT 4);"
    } | sqlite3 "$database"
}

run_git() {
    export HOME=$work/home-$run GIT_CONFIG_NOSYSTEM=1
    export GIT_AUTHOR_NAME="Drop In" GIT_AUTHOR_EMAIL=dropin@example.com
    export GIT_COMMITTER_NAME="Drop In" GIT_COMMITTER_EMAIL=dropin@example.com
    export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"
    local repository=$work/repository-$run
    mkdir -p "$HOME"
    git init -q -b main "$repository"
    cd "$repository"
    awk 'BEGIN { for (i = 0; i < 200; i++) for (n = i; n <= i + 50; n++) print n > ("file-" i ".txt") }'
    git add .
    git commit -q -m "Add 200 files"
    sed -i 's/^1/one/' file-1*.txt
    git rm -q file-2.txt
    git commit -q -am "Rename ones, drop file 2"
    git log --format='%H %an %s'
    git diff --stat HEAD~1 HEAD | tail -n 1
    git ls-files | wc -l
    git fsck --no-progress 2>&1
}

run_bash_pipeline() {
    bash -c '
        declare -A squares
        for ((i = 0; i < 5000; i++)); do squares[key$i]=$((i * i)); done
        echo "entries=${#squares[@]} last=${squares[key4999]}"
        seq 1 60000 | awk "{ print \$1 % 977, \$1 }" | sort -k1,1n -k2,2n | tail -n 3
        seq 1 20000 | sed "s/\$/-line/" | sort | md5sum
    '
}

run_gcc() {
    gcc -O2 -Wall -o "$work/hello-$run" "$here/hello.c"
    "$work/hello-$run"
}

case $program in
    python) min_processes=2 min_mallocs=100000 ;;
    perl) min_processes=1 min_mallocs=50000 ;;
    sqlite) min_processes=1 min_mallocs=3000 ;;
    git) min_processes=5 min_mallocs=500 ;;
    bash_pipeline) min_processes=6 min_mallocs=5000 ;;
    gcc) min_processes=3 min_mallocs=5000 ;;
    *) echo "run_program.sh: unknown program '$program'" >&2; exit 2 ;;
esac

# Each run in a subshell with errexit live (an `||` after it would disable it).
set +e
run=reference
(set -e; run_"$program") >"$work/reference.out" 2>"$work/reference.err"
reference_status=$?
run=mem_io
(set -e; export LD_PRELOAD=$library MEM_IO_STATS=$work/stats; run_"$program") \
    >"$work/mem_io.out" 2>"$work/mem_io.err"
status=$?
set -e
if ((reference_status != 0)); then
    echo "run_program.sh: $program failed on glibc's malloc (status $reference_status):" >&2
    cat "$work/reference.err" >&2
    exit 1
fi

failed=0
complain() { echo "run_program.sh: $program: $*" >&2; failed=1; }
((status == 0)) || complain "exited with status $status on mem_io"
[[ -s $work/reference.out ]] || complain "printed nothing"
diff -u "$work/reference.out" "$work/mem_io.out" >&2 || complain "stdout on mem_io differs from glibc's"
touch "$work/stats"
if grep '^mem_io: ' "$work/mem_io.err" >&2; then
    complain "mem_io reported errors"
fi
processes=$(grep -c '^mem_io: stats: ' "$work/stats" || true)
((processes >= min_processes)) || complain "$processes processes ran on mem_io, expected >= $min_processes"
busiest=$( (grep -o 'malloc_calls=[0-9]*' "$work/stats" || true) | cut -d= -f2 | sort -n | tail -n 1)
((${busiest:-0} >= min_mallocs)) || complain "busiest process made ${busiest:-0} mallocs, expected >= $min_mallocs"
if grep -v ' errors=0 ' "$work/stats" >&2; then
    complain "mem_io counted errors"
fi
if ((failed)); then
    echo "--- stderr on mem_io:" >&2
    cat "$work/mem_io.err" >&2
    echo "--- mem_io stats lines:" >&2
    cat "$work/stats" >&2
    exit 1
fi
echo "$program on mem_io: same output as on glibc; $processes processes ran on mem_io," \
    "the busiest made $busiest mallocs; no errors"
cat "$work/mem_io.out"
