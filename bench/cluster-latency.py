#!/usr/bin/env python3
"""Cross-instance command latency (issue 19): two adc-server instances on one PostgreSQL
database; an agent (simulated with the channel's HTTP calls) long-polls instance B; "sync now"
is given to instance A. Measured: from just before A's POST until B's poll returns the command
(NOTIFY, B's claim, B's hub waking the poll). Prints p50, p99, max over --n syncs.

With --logins SECONDS: sign-ins per second instead, with bench/login-load.c's closed-loop
clients (--clients): the agent (simulated: it accepts every check at once, so what is measured
is the servers' path) is connected to instance B; the load goes (1) to B alone, the one-instance
figure, (2) through HAProxy spreading requests over A and B (roundrobin: half the checks cross
the database, sealed to B's key), and (3) to A alone (every check crosses).

    ADC_SERVER_BIN=build-bench/src/server/adc-server python3 bench/cluster-latency.py --n 100
    python3 bench/cluster-latency.py --logins 10 --clients 8
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

PASSWORD = "bench-password"


class FastAgent:
    """A simulated agent on one instance: one long poll at a time, checks answered by a few
    threads with keep-alive connections (accepted when the password is PASSWORD)."""

    def __init__(self, srv, cfg, workers=4):
        import http.client
        import queue
        self.srv, self.auth = srv, basic_auth(cfg["app_id"], cfg["secret"])
        self.conn = lambda: http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
        r = srv.request("POST", "/api/v1/agent/connect", {"host": "bench", "version": "b"},
                        auth=self.auth)
        assert r.status == 201, r
        self.agent_id = r.body["agent_id"]
        self.q = queue.Queue()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._poll, daemon=True)]
        self.threads += [threading.Thread(target=self._answer, daemon=True) for _ in range(workers)]
        for t in self.threads:
            t.start()

    def _call(self, c, method, path, body=None):
        import json
        headers = {"Authorization": self.auth}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        c.request(method, path, data, headers)
        r = c.getresponse()
        raw = r.read()
        return r.status, (json.loads(raw) if raw and r.status == 200 else None)

    def _poll(self):
        c = self.conn()
        while not self.stop.is_set():
            st, body = self._call(c, "GET", "/api/v1/agent/commands?wait=2&agent_id=" +
                                  self.agent_id)
            assert st == 200, st
            for cmd in body["commands"]:
                self.q.put(cmd)

    def _answer(self):
        c = self.conn()
        while not self.stop.is_set():
            try:
                cmd = self.q.get(timeout=0.5)
            except Exception:
                continue
            if cmd["type"] != "check_password":
                continue
            ok = cmd["password"] == PASSWORD
            self._call(c, "POST", "/api/v1/agent/commands/%s/result" % cmd["id"],
                       {"outcome": "accepted" if ok else "denied", "reason": "bench"})

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(10)


def logins(seconds, clients, n_users=200):
    import json
    import subprocess
    import tempfile
    from harness.haproxy import HAProxy
    load = os.path.join(os.path.dirname(os.environ["ADC_SERVER_BIN"]), "..", "..", "bench",
                        "adc-bench-login")
    a = AdcServer(engine="postgresql", args=["--login-timeout", "30"]).start()
    b = AdcServer(db=a.db, admin_token=a.admin_token, args=["--login-timeout", "30"]).start()
    lb = HAProxy([("a", "127.0.0.1", a.port), ("b", "127.0.0.1", b.port)], balance="roundrobin")
    agent = None
    tmp = tempfile.mkdtemp(prefix="adc-bench-cluster-")
    try:
        lb.open()
        lb.wait_up(2)
        cfg = a.create_sync_config("logins")
        users = os.path.join(tmp, "users.tsv")
        with open(users, "w") as f:
            for i in range(n_users):
                name = "u%05d@example.org" % i
                r = a.scim(cfg, "POST", "/Users", {
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": name, "externalId": "x%d" % i, "active": True})
                assert r.status == 201, r
                f.write("%s\t%s\t200\n" % (name, PASSWORD))
        agent = FastAgent(b, cfg)
        time.sleep(0.5)
        out = {}
        for label, url in (("one instance (B, the agent's)", b.url),
                           ("two instances behind HAProxy", lb.url),
                           ("instance A only (every check crosses)", a.url)):
            r = subprocess.run([load, "--url", url + "/api/v1/login", "--users", users,
                                "--clients", str(clients), "--duration", str(seconds)],
                               capture_output=True, text=True, timeout=seconds + 120)
            res = json.loads(r.stdout)
            out[label] = res
            print("sign-ins, %s: %.0f/s, p50 %.1f ms, p99 %.1f ms, max %.1f ms (%d requests, "
                  "%d unexpected, %d errors, %d clients)"
                  % (label, res["per_second"], res["p50_ms"], res["p99_ms"], res["max_ms"],
                     res["requests"], res["unexpected"], res["errors"], clients), flush=True)
        for srv, name in ((a, "A"), (b, "B")):
            n = srv.read_log().count("accepted by the agent")
            print("instance %s answered %d sign-ins" % (name, n))
        print("load average: %.1f / %.1f / %.1f" % os.getloadavg())
        return out
    finally:
        if agent:
            agent.close()
        lb.close()
        b.cleanup()
        a.cleanup()
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--logins", type=int, metavar="SECONDS",
                   help="measure sign-ins per second through one and two instances instead")
    p.add_argument("--clients", type=int, default=8)
    a_args = p.parse_args()
    if a_args.logins:
        logins(a_args.logins, a_args.clients)
        return
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
