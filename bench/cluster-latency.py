#!/usr/bin/env python3
"""Cross-instance command latency (issue 19): two adc-server instances on one PostgreSQL
database; an agent (simulated with the channel's HTTP calls) long-polls instance B; "sync now"
is given to instance A. Measured: from just before A's POST until B's poll returns the command
(NOTIFY, B's claim, B's hub waking the poll). Prints p50, p99, max over --n syncs.

    ADC_SERVER_BIN=build-bench/src/server/adc-server python3 bench/cluster-latency.py --n 100
"""
import argparse
import os
import statistics
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
os.environ.setdefault("ADC_SERVER_BIN", os.path.join(ROOT, "build-bench", "src", "server",
                                                     "adc-server"))

from harness.server import AdcServer, basic_auth  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100)
    a_args = p.parse_args()
    a = AdcServer(engine="postgresql").start()
    b = AdcServer(db=a.db, admin_token=a.admin_token).start()
    try:
        cfg = a.create_sync_config("latency")
        auth = basic_auth(cfg["app_id"], cfg["secret"])
        agent = b.request("POST", "/api/v1/agent/connect", {"host": "h", "version": "v"},
                          auth=auth).body["agent_id"]
        samples = []
        for _ in range(a_args.n):
            got = {}

            def poll():
                r = b.request("GET", "/api/v1/agent/commands?agent_id=%s&wait=20" % agent,
                              auth=auth, timeout=30)
                got["at"] = time.monotonic()
                got["cmds"] = r.body["commands"]

            t = threading.Thread(target=poll)
            t.start()
            time.sleep(0.05)  # the poll waits on B
            t0 = time.monotonic()
            r = a.admin("POST", "/api/v1/sync-configs/%s/sync" % cfg["app_id"], {})
            assert r.status == 202, r
            t.join()
            assert [c["run_id"] for c in got["cmds"]] == [r.body["run_id"]], got
            samples.append((got["at"] - t0) * 1000)
            b.request("PUT", "/api/v1/agent/runs/" + r.body["run_id"], {"status": "succeeded"},
                      auth=auth)
        samples.sort()
        p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
        print("cross-instance sync now, n=%d: p50 %.1f ms, p99 %.1f ms, max %.1f ms"
              % (len(samples), statistics.median(samples), p99, samples[-1]))
        print("load average: %.1f / %.1f / %.1f" % os.getloadavg())
    finally:
        b.cleanup()
        a.cleanup()


if __name__ == "__main__":
    main()
