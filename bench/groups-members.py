#!/usr/bin/env python3
"""adc-server's CPU for creating groups with their members through Bulk, as adc's first import
does (docs/BENCHMARKS.md, "Group members checked and written per request"): N users, one group
of all of them (created with 30,000 members, the rest added by PATCH in Bulk within
maxPayloadSize), and G-1 groups of 1,000 members, 10 groups a Bulk request.

    ADC_SERVER_BIN=build/src/server/adc-server python3 bench/groups-members.py [N [G]]

SQLite, or PostgreSQL with ADC_TEST_DB=postgresql. Prints the server's CPU seconds (user +
system, from /proc) for the groups part alone. PERF=file also records it with perf."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from harness.server import SCIM_BULK, AdcServer, group, user

def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
ngroups = int(sys.argv[2]) if len(sys.argv) > 2 else 101
with AdcServer() as srv:
    cfg = srv.create_sync_config("bench")
    ids = []
    for start in range(0, n, 1000):
        ops = [{"method": "POST", "path": "/Users", "bulkId": str(i),
                "data": user(f"u{i:07d}@example.org", f"ext-{i}")} for i in range(start, min(n, start + 1000))]
        r = srv.scim(cfg, "POST", "/Bulk", {"schemas": [SCIM_BULK], "Operations": ops})
        assert r.status == 200, r
        ids += [o["location"].rsplit("/", 1)[1] for o in r.body["Operations"]]
    perf = None
    if os.environ.get("PERF"):
        import subprocess
        perf = subprocess.Popen(["perf", "record", "-q", "-g", "-o", os.environ["PERF"], "-p", str(srv.proc.pid)])
        time.sleep(1)
    c0 = cpu(srv.proc.pid); t0 = time.monotonic()
    # one group of all (created with 30,000 members, the rest added by PATCH in Bulk, as
    # maxPayloadSize allows), then ngroups-1 groups of 1000 members, 10 groups per Bulk
    mem = [{"value": i, "type": "User"} for i in ids]
    ops = [{"method": "POST", "path": "/Groups", "bulkId": "g0",
            "data": group("all", "g-all", mem[:30000])}]
    r = srv.scim(cfg, "POST", "/Bulk", {"schemas": [SCIM_BULK], "Operations": ops})
    assert r.status == 200 and r.body["Operations"][0]["status"] == "201", r
    gid = r.body["Operations"][0]["location"].rsplit("/", 1)[1]
    for s in range(30000, n, 30000):
        ops = [{"method": "PATCH", "path": "/Groups/" + gid, "data": {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": mem[s:s + 30000]}]}}]
        r = srv.scim(cfg, "POST", "/Bulk", {"schemas": [SCIM_BULK], "Operations": ops})
        assert r.status == 200 and r.body["Operations"][0]["status"] in ("200", "204"), r
    for b in range(1, ngroups, 10):
        ops = [{"method": "POST", "path": "/Groups", "bulkId": f"g{k}",
                "data": group(f"g{k}", f"g-{k}", mem[(k*1000) % n:(k*1000) % n + 1000])}
               for k in range(b, min(ngroups, b + 10))]
        r = srv.scim(cfg, "POST", "/Bulk", {"schemas": [SCIM_BULK], "Operations": ops})
        assert r.status == 200 and all(o["status"] == "201" for o in r.body["Operations"]), r
    members = n + (ngroups - 1) * 1000
    dc = cpu(srv.proc.pid) - c0
    if perf:
        import signal
        perf.send_signal(signal.SIGINT); perf.wait()
    print(f"{members} memberships in {ngroups} groups: server CPU {dc:.2f} s, wall {time.monotonic()-t0:.2f} s, "
          f"{dc / members * 1e6:.1f} us/membership")
