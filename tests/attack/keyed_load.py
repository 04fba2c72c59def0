#!/usr/bin/env python3
"""Keyed creates under faults: THREADS clients each POST /orders with a
unique Idempotency-Key and retry the same key on 503/504 until 201 (at most
RETRIES); every answer's time is checked against its X-Request-Timeout.
Prints counts; then the caller checks order_db: one order per key.
usage: keyed_load.py PORT SECONDS THREADS TIMEOUT_MS TAG"""
import http.client, json, sys, threading, time
port, secs, threads, tmo, tag = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
lock = threading.Lock(); stats = {}; late = []; ids = {}
def bump(k):
    with lock: stats[k] = stats.get(k, 0) + 1
def worker(w):
    end = time.time() + secs; n = 0
    while time.time() < end:
        n += 1; key = f"{tag}-{w}-{n}"
        for attempt in range(200):
            t0 = time.time()
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=tmo / 1000 + 5)
                c.request("POST", "/orders", json.dumps({"userId": 1, "product": key, "price": 1}),
                          {"Content-Type": "application/json", "Idempotency-Key": key, "X-Request-Timeout": str(tmo)})
                r = c.getresponse(); body = r.read(); status = r.status; c.close()
            except Exception as e:
                status = "exc:" + type(e).__name__
            took = (time.time() - t0) * 1000
            bump(status)
            if took > tmo + 250: late.append((status, round(took)))
            if status == 201:
                with lock: ids.setdefault(key, set()).add(json.loads(body)["id"])
                break
            if status not in (503, 504) and not str(status).startswith("exc"):
                print("unexpected", status, body[:200]); break
            time.sleep(0.05)
ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
[t.start() for t in ts]; [t.join() for t in ts]
print("answers", stats); print("late(>timeout+250ms)", len(late), sorted(late, key=lambda x: -x[1])[:5])
print("keys", len(ids), "keys_with_two_ids", sum(1 for v in ids.values() if len(v) > 1))
