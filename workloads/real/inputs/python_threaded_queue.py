"""A multi-threaded Python workload for the recorder: producer threads build records (dicts,
strings, lists) and hand them through queues to consumer threads that aggregate and drop them,
so most objects are freed by a thread other than the one that allocated them."""
import collections
import queue
import threading

RECORDS_PER_PRODUCER = 15000
work = queue.Queue(maxsize=256)
totals = collections.Counter()
totals_lock = threading.Lock()


def produce(producer):
    for i in range(RECORDS_PER_PRODUCER):
        work.put({"producer": producer, "key": "item-%d-%d" % (producer, i % 500), "values": [i, i * 2, str(i)]})
    work.put(None)


def consume():
    seen = collections.Counter()
    while True:
        record = work.get()
        if record is None:
            break
        seen[record["key"]] += len(record["values"][2])
    with totals_lock:
        totals.update(seen)


threads = [threading.Thread(target=produce, args=(p,)) for p in range(2)] + [threading.Thread(target=consume) for _ in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(len(totals), "keys,", sum(totals.values()), "characters")
