#!/usr/bin/env python3
"""adc-server alone: N users created through SCIM Bulk as adc sends a first import (1,000
creates a request, two requests in flight on two connections, random externalIds like
entryUUIDs, userNames in directory order), then the server's CPU per create, the wall time and
the database size. No slapd, no adc: it isolates the server's write path (docs/BENCHMARKS.md,
issue 21). Every create must be answered 201.

    bench/server-creates.py --build build-bench --users 1000000
    bench/server-creates.py --build build-bench --users 300000 --perf-record perf.data
"""
import argparse
import base64
import http.client
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (bench.Server, bench.proc_cpu)

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PROVIDER = "urn:adconnect:scim:schemas:extension:sync:2.0:User"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def bulk_body(first, end, app_id):
    """The request adc would send for users first..end-1 (src/adc/cloud/scim-user.c)."""
    ops = []
    for i in range(first, end):
        name = f"user{i:07d}"
        data = (f'{{"schemas":["{USER}","{PROVIDER}"],"userName":"{name}",'
                f'"externalId":"{uuid.uuid4()}","displayName":"Given{i} Family{i}",'
                f'"active":true,"name":{{"givenName":"Given{i}","familyName":"Family{i}"}},'
                f'"emails":[{{"value":"{name}@example.com","type":"work","primary":true}}],'
                f'"{PROVIDER}":{{"provider":"{app_id}"}}}}')
        ops.append(f'{{"method":"POST","path":"/Users","bulkId":"b{i}","data":{data}}}')
    return f'{{"schemas":["{BULK}"],"Operations":[{",".join(ops)}]}}'.encode()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(bench.ROOT, "build-bench"))
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--per-request", type=int, default=1000)
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite",
                   help="the store: a SQLite file, or a database of a PostgreSQL cluster the "
                        "benchmark starts (as bench.py --db)")
    p.add_argument("--perf-record", help="also record adc-server with perf into this file")
    a = p.parse_args()
    work = tempfile.mkdtemp(prefix="adc-server-creates-")
    srv = bench.Server(os.path.join(a.build, "src", "server", "adc-server"), work, engine=a.db,
                       options=["-v"])
    try:
        srv.init()
        srv.start()
        srv.create_sync_config()
        auth = "Basic " + base64.b64encode(f"{srv.app_id}:{srv.secret}".encode()).decode()
        lock, state = threading.Lock(), {"next": 0, "created": 0, "error": None}

        def sender():
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=600)
            while True:
                with lock:
                    first = state["next"]
                    if first >= a.users or state["error"]:
                        return
                    state["next"] = min(a.users, first + a.per_request)
                body = bulk_body(first, state["next"], srv.app_id)
                c.request("POST", "/scim/v2/Bulk", body,
                          {"Authorization": auth, "Content-Type": "application/scim+json"})
                r = c.getresponse()
                text = r.read()
                with lock:
                    if r.status != 200:
                        state["error"] = f"{r.status}: {text[:300]!r}"
                    state["created"] += text.count(b'"status":"201"')

        perf = None
        if a.perf_record:
            perf = subprocess.Popen(["perf", "record", "-F", "200", "--call-graph", "dwarf,16384",
                                     "-o", a.perf_record, "-p", str(srv.proc.pid)])
            time.sleep(0.5)
        cpu0, t0 = bench.proc_cpu(srv.proc.pid), time.monotonic()
        threads = [threading.Thread(target=sender) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall, cpu = time.monotonic() - t0, bench.proc_cpu(srv.proc.pid) - cpu0
        if perf:
            perf.send_signal(2)
            perf.wait()
        if state["error"] or state["created"] != a.users:
            raise bench.BenchError(f"{state['created']} of {a.users} created; {state['error']}")
        print(f"{a.users:,} creates, {a.per_request} a request: wall {wall:.1f} s, adc-server CPU "
              f"{cpu:.2f} s = {cpu / a.users * 1e6:.1f} us a create, peak RSS "
              f"{bench.mb(srv.peak_rss()):.1f} MB, database {bench.mb(srv.db_size()):.1f} MB, "
              f"load average {os.getloadavg()[0]:.1f}")
        srv.stop()
        # "externalId index: N users settled in S s (batch|idle)" (store-users.c)
        settles = [float(m.group(1)) for m in re.finditer(
            r"users settled in ([0-9.]+) s", open(srv.log_path, errors="replace").read())]
        if settles:
            print(f"externalId index: {len(settles)} settles, {sum(settles):.2f} s in all, the "
                  f"longest {max(settles):.2f} s")
    finally:
        if srv.proc and srv.proc.poll() is None:
            srv.proc.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
