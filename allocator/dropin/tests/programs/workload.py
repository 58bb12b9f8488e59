#!/usr/bin/python3
"""Python on mem_io: threads building many small objects, a subprocess, and a
result that must come out the same as on glibc's malloc."""
import subprocess
import sys
import threading


def build_and_measure(worker, results):
    table = {}
    for i in range(30000):
        table[(worker, i)] = [str(i)] * (i % 5) + [{"n": i, "w": worker}]
    del table[(worker, 0)]
    results[worker] = sum(len(value) for value in table.values())


results = {}
threads = [threading.Thread(target=build_and_measure, args=(w, results)) for w in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print("threads:", [results[w] for w in range(4)])

child = subprocess.run([sys.executable, "-c", "print(sum(len(str(i)) for i in range(100000)))"],
                       stdout=subprocess.PIPE, text=True, check=True)
print("subprocess:", child.stdout.strip())

words = sorted({"%x-%d" % (i * 2654435761 % 2**32, i % 7) for i in range(50000)})
print("objects:", len(words), words[0], words[-1], sum(map(len, words)))
