#!/usr/bin/env python3
"""Cost of `postwarden history purge` on a large history, and what it does to a running writer.

    scripts/bench_purge.py --store sqlite --path /tmp/pw-bench-1m.sqlite [--before T]
    scripts/bench_purge.py --store redis --redis-url redis://127.0.0.1:6399/0 --prefix bench:

Runs the store's purge (by default before t = 1.0: a full pass that deletes nothing, so the
benchmark store of bench_history.py can be used and kept; pass ``--before`` on a copy to delete)
while a second connection writes one field every 10 ms, as the daemon's learning would, and
prints how long the pass took and how long those writes waited (p50 and max). The writes go to a
bucket of their own (``zz-purge-probe``), which no look-up reads.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from postwarden.stores import open_store


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--path", default="/tmp/postwarden-bench-history.sqlite")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--prefix", default="bench:")
    parser.add_argument("--before", type=float, default=1.0, help="purge what is older than this time")
    args = parser.parse_args()
    stores = [open_store(args.store, path=args.path, url=args.redis_url, prefix=args.prefix)
              for _ in range(2)]
    purging, writing = stores
    stop, waits = threading.Event(), []

    def writer() -> None:
        i = 0
        while not stop.is_set():
            started = time.perf_counter()
            with writing.batch():
                writing.put([("zz-purge-probe", f"k{i % 10}", b"1")], time.time())
            waits.append((time.perf_counter() - started) * 1000)
            i += 1
            time.sleep(0.01)

    thread = threading.Thread(target=writer)
    thread.start()
    started = time.perf_counter()
    try:
        removed = purging.purge(args.before)
    finally:
        stop.set()
        thread.join()
    print(f"{args.store}: purge pass {time.perf_counter() - started:.1f}s, removed {removed}; "
          f"{len(waits)} concurrent writes waited p50 {statistics.median(waits):.2f} ms, "
          f"max {max(waits):.1f} ms")
    for store in stores:
        store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
