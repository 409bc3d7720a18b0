#!/usr/bin/env python3
"""A group of N members on adc-server (docs/product.md sections 10 and 14, docs/BENCHMARKS.md):
the cost of creating it, of one member joining or leaving (bytes sent and time), of reading it
whole, of reading it without its members, and of "the groups of this user".

    ADC_SERVER_BIN=build/src/server/adc-server python3 bench/groups-server.py [N]

Uses the test harness's adc-server (a temporary SQLite database, or PostgreSQL with
ADC_TEST_DB=postgresql). Prints one line per measurement."""
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from harness.server import SCIM_BULK, AdcServer, group, patch, user  # noqa: E402


def timed(fn):
    t = time.monotonic()
    r = fn()
    return r, time.monotonic() - t


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    with AdcServer() as srv:
        cfg = srv.create_sync_config("bench")
        ids = []
        t0 = time.monotonic()
        for start in range(0, n, 1000):
            ops = [{"method": "POST", "path": "/Users", "bulkId": str(i),
                    "data": user(f"u{i:07d}@example.org", f"ext-{i}")}
                   for i in range(start, min(n, start + 1000))]
            r = srv.scim(cfg, "POST", "/Bulk", {"schemas": [SCIM_BULK], "Operations": ops})
            assert r.status == 200, r
            ids += [o["location"].rsplit("/", 1)[1] for o in r.body["Operations"]]
        print(f"users: {n} created in {time.monotonic() - t0:.1f} s (Bulk)")
        body = group("Everyone", "g-all", ids)
        r, dt = timed(lambda: srv.scim(cfg, "POST", "/Groups", body))
        assert r.status == 201, r
        gid = r.body["id"]
        print(f"group of {n} members: created in {dt:.2f} s, request {len(json.dumps(body))} bytes")
        path = "/Groups/" + gid
        leave, join = [], []
        for i in range(50):
            rm = patch(("remove", f'members[value eq "{ids[i]}"]', None))
            r, dt = timed(lambda: srv.scim(cfg, "PATCH", path, rm))
            assert r.status == 204, r
            leave.append(dt)
            add = patch(("add", "members", [{"value": ids[i], "type": "User"}]))
            r, dt = timed(lambda: srv.scim(cfg, "PATCH", path, add))
            assert r.status == 204, r
            join.append(dt)
        print(f"one member leaves: {len(json.dumps(rm))} bytes, median "
              f"{statistics.median(leave) * 1000:.1f} ms; joins: {len(json.dumps(add))} bytes, "
              f"median {statistics.median(join) * 1000:.1f} ms (50 each)")
        r, dt = timed(lambda: srv.scim(cfg, "GET", path))
        assert r.status == 200 and len(r.body["members"]) == n, r
        print(f"GET the group with its members: {dt:.2f} s, {len(r.raw)} bytes")
        r, dt = timed(lambda: srv.scim(cfg, "GET", path + "?excludedAttributes=members"))
        print(f"GET it with excludedAttributes=members: {dt * 1000:.1f} ms, {len(r.raw)} bytes")
        f = f'members.value eq "{ids[-1]}"'
        r, dt = timed(lambda: srv.scim(cfg, "GET", "/Groups?excludedAttributes=members&filter="
                                       + __import__("urllib.parse").parse.quote(f)))
        assert r.body["totalResults"] == 1, r
        print(f"the groups of one user (members.value eq): {dt * 1000:.1f} ms")
        r, dt = timed(lambda: srv.scim(cfg, "DELETE", "/Users/" + ids[-1]))
        assert r.status == 204, r
        print(f"delete a user that is a member: {dt * 1000:.1f} ms")


if __name__ == "__main__":
    main()
