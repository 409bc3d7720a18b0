#!/usr/bin/env python3
"""Live changes benchmark (docs/product.md section 9, docs/BENCHMARKS.md "Live changes").

    bench/live.py --build build-bench [--users 20000 100000] [--changes 100] [--cpu-changes 20]

For each directory size N: N users slapadded into a temporary slapd with the syncprov overlay,
an adc-server, and `adc run` with live changes (watch: auto, which detects syncrepl). After the
startup full sync:
  - latency: `--changes` modifications (displayName) one after the other; each is timed from
    just before ldapmodify starts (so the figure includes starting ldapmodify, its bind and
    slapd's commit: an upper bound) until GET /scim/v2/Users?filter=userName eq "..." on
    adc-server shows the new value (polled every 5 ms). p50, p99 and max;
  - cpu: the CPU time (user + system, /proc/PID/stat) adc spends on `--cpu-changes`
    modifications, per change: it must not grow with N (targets: p99 <= 2 s; CPU per change
    flat from 20,000 to 100,000 users).
With --samba N: the same latency and CPU figures against a Samba AD DC (harness/samba.py: one
at a time on the machine, as root) holding N users, with `watch: auto` (it detects DirSync,
woken by change notifications) and a bind account that is no administrator (target: p99
<= 10 s).
Prints a table and, with --json FILE, writes the figures.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from harness import ldif  # noqa: E402
from harness.agent import cfg_text, yaml_text  # noqa: E402
from harness.slapd import Slapd  # noqa: E402


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def percentile(values, p):
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(p / 100.0 * (len(v) - 1)))))
    return v[k]


class Server:
    def __init__(self, build):
        self.bin = os.path.join(build, "src", "server", "adc-server")
        self.dir = tempfile.mkdtemp(prefix="adc-live-bench-")
        self.db = os.path.join(self.dir, "db.sqlite")
        r = subprocess.run([self.bin, "--db", self.db, "init"], capture_output=True, text=True,
                           check=True)
        self.token = r.stdout.strip()
        self.log = open(os.path.join(self.dir, "server.log"), "w")
        self.proc = subprocess.Popen([self.bin, "--db", self.db, "serve", "--listen",
                                      "127.0.0.1:0"], stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        while "listening on" not in line:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError("adc-server did not start")
        self.url = line.strip().rsplit(" ", 1)[1]

    def call(self, method, path, body=None, auth=None):
        req = urllib.request.Request(self.url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
        req.add_header("Authorization", auth or "Bearer " + self.token)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=60) as r:
            data = r.read()
            return json.loads(data) if data else None

    def close(self):
        self.proc.terminate()
        self.proc.wait()


def measure(srv, basic, agent, users, modify, n_changes, n_cpu):
    """Latency of n_changes modifications one after the other and adc's CPU per change over
    n_cpu more; users: [(entry, userName)], modify(entry, displayName)."""
    def change(i, tag):
        u, name = users[i % len(users)]
        value = f"{tag} {i}"
        t = time.monotonic()
        modify(u, value)
        q = urllib.parse.quote(f'userName eq "{name}"')
        while True:
            r = srv.call("GET", f"/scim/v2/Users?filter={q}", auth=basic)
            res = r.get("Resources") or []
            if res and res[0].get("displayName") == value:
                return time.monotonic() - t
            if time.monotonic() - t > 30:
                raise RuntimeError(f"change {i} not in the cloud within 30 s")
            time.sleep(0.005)

    latencies = [change(i, "Latency") for i in range(n_changes)]
    time.sleep(1)
    c0 = cpu_seconds(agent.pid)
    for i in range(n_cpu):
        change(n_changes + i, "Cpu")
    time.sleep(0.5)
    cpu = cpu_seconds(agent.pid) - c0
    return {
        "latency_p50_ms": round(statistics.median(latencies) * 1000, 1),
        "latency_p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "latency_max_ms": round(max(latencies) * 1000, 1),
        "changes": n_changes,
        "cpu_changes": n_cpu,
        "cpu_ms_per_change": round(cpu * 1000 / n_cpu, 2) if n_cpu else None,
    }


def start_agent(build, srv, yaml):
    """adc run for a new sync configuration; returns (process, Basic auth, seconds until its
    startup full sync succeeded)."""
    import base64
    cfg = srv.call("POST", "/api/v1/sync-configs", {"name": "bench", "sync_interval_minutes": 0})
    basic = "Basic " + base64.b64encode(f"{cfg['app_id']}:{cfg['secret']}".encode()).decode()
    d = tempfile.mkdtemp(prefix="adc-live-bench-agent-")
    with open(os.path.join(d, "adc.cfg"), "w") as f:
        f.write(cfg_text(srv.url, cfg["app_id"], cfg["secret"]) + f"state_dir = {d}\n")
    with open(os.path.join(d, "adc.yaml"), "w") as f:
        f.write(yaml)
    os.chmod(os.path.join(d, "adc.cfg"), 0o600)
    os.chmod(os.path.join(d, "adc.yaml"), 0o600)
    log = open(os.path.join(d, "adc.log"), "w")
    t0 = time.monotonic()
    agent = subprocess.Popen([os.path.join(build, "src", "adc", "adc"), "-C",
                              os.path.join(d, "adc.cfg"), "run"], stdout=log,
                             stderr=subprocess.STDOUT)
    runs_path = f"/api/v1/sync-configs/{cfg['app_id']}/runs"
    while True:
        runs = srv.call("GET", runs_path)["runs"]
        if runs and runs[0]["status"] in ("succeeded", "failed"):
            break
        if agent.poll() is not None or time.monotonic() - t0 > 1800:
            agent.kill()
            raise RuntimeError("the startup full sync did not finish")
        time.sleep(0.2)
    if runs[0]["status"] != "succeeded":
        agent.kill()
        raise RuntimeError(f"startup full sync failed: {runs[0]}")
    baseline_s = time.monotonic() - t0
    time.sleep(1)
    return agent, basic, baseline_s


def run_samba(build, n, n_changes, n_cpu):
    from harness.samba import SambaDC
    base, svc, password = "OU=Bench,DC=adc,DC=test", "CN=svc-bench,CN=Users,DC=adc,DC=test", \
        "Bench-Reader-Passw0rd"
    dc = SambaDC()
    dc.start()
    srv = agent = None
    try:
        dc.ldapadd(f"dn: {base}\nobjectClass: organizationalUnit\n\n"
                   f"dn: {svc}\nobjectClass: user\nsAMAccountName: svc-bench\n"
                   "userAccountControl: 512\n\n")
        dc.set_password(svc, password)
        dc.grant_deleted_objects_read("svc-bench")
        names = [f"bench{i:06d}" for i in range(n)]
        for k in range(0, n, 1000):
            dc.ldapadd("".join(f"dn: CN={x},{base}\nobjectClass: user\nsAMAccountName: {x}\n"
                               f"mail: {x}@adc.test\ndisplayName: {x}\n"
                               "userAccountControl: 512\n\n" for x in names[k:k + 1000]))
        srv = Server(build)
        yaml = "\n".join([
            "settings:", "  dry-run: false", "backend:", "  ldap:", f"    addr: {dc.uri}",
            f"    bind_dn: {svc}", f"    bind_password: {password}", f"    base_dn: {base}",
            f"    ca_file: {dc.ca_file}", "    sync:", "      page_size: 1000",
            "      filter: \"(&(objectClass=user)(objectCategory=person))\"",
            "      watch: auto", "    authentication:",
            "      username_attribute: sAMAccountName",
            "      username_filter_template: \"(&(objectClass=user)(sAMAccountName=%s))\"", ""])
        agent, basic, baseline_s = start_agent(build, srv, yaml)

        def modify(name, value):
            dc.ldapmodify(f"dn: CN={name},{base}\nchangetype: modify\nreplace: displayName\n"
                          f"displayName: {value}\n")
        r = measure(srv, basic, agent, [(x, x) for x in names], modify, n_changes, n_cpu)
        return {"directory": "samba", "users": n, "startup_full_sync_s": round(baseline_s, 2),
                **r}
    finally:
        if agent:
            agent.terminate()
            agent.wait()
        if srv:
            srv.close()
        dc.stop()


def run_size(build, n, n_changes, n_cpu):
    users = ldif.generate(n, special=False)
    slapd = Slapd(ldif=users, syncprov=True)
    slapd.open()
    srv = Server(build)
    agent = None
    try:
        agent, basic, baseline_s = start_agent(
            build, srv, yaml_text(slapd, watch="auto").replace("page_size: 200", "page_size: 1000"))

        def modify(u, value):
            slapd.ldapmodify(f"dn: {u.dn}\nchangetype: modify\nreplace: displayName\n"
                             f"displayName: {value}\n")
        r = measure(srv, basic, agent, [(u, u.mail[0]) for u in users], modify, n_changes,
                    n_cpu)
        return {"users": n, "startup_full_sync_s": round(baseline_s, 2), **r}
    finally:
        if agent:
            agent.terminate()
            agent.wait()
        srv.close()
        slapd.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--users", type=int, nargs="+", default=[20000, 100000])
    ap.add_argument("--changes", type=int, default=100)
    ap.add_argument("--cpu-changes", type=int, default=20)
    ap.add_argument("--samba", type=int, metavar="N", help="a Samba AD DC with N users instead")
    ap.add_argument("--json")
    a = ap.parse_args()
    results = []
    if a.samba:
        r = run_samba(a.build, a.samba, a.changes, a.cpu_changes)
        results.append(r)
        print(json.dumps(r), flush=True)
    for n in ([] if a.samba else a.users):
        r = run_size(a.build, n, a.changes, a.cpu_changes)
        results.append(r)
        print(json.dumps(r), flush=True)
    print(f"{'users':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'cpu ms/change':>14}")
    for r in results:
        print(f"{r['users']:>8} {r['latency_p50_ms']:>8} {r['latency_p99_ms']:>8} "
              f"{r['latency_max_ms']:>8} {r['cpu_ms_per_change']:>14}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
