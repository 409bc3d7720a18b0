#!/usr/bin/env python3
"""The ad-connect benchmark (docs/product.md section 8, docs/BENCHMARKS.md). Usually started by
bench/run.sh, which installs the packages and builds a release build first.

    bench/bench.py --build build-bench [--users 100000] [--runs 3] [--scaling] [--json FILE]
                   [--ldaps]

What it does, in one run:
  - generates N users (tests/integration/harness/ldif.py) and slapadds them into a temporary
    slapd (tests/integration/harness/slapd.py);
  - floor: `ldapsearch` paging (-E pr=<page>/noprompt) the same users and attributes adc asks
    for, as the same account, to /dev/null;
  - first: `adc imp` into an empty adc-server (a fresh database for every repetition);
  - unchanged: `adc imp` again, nothing changed;
  - changed: `adc imp` after 1% of the users changed (a quarter each renamed, edited, removed,
    added); slapd's and adc-server's databases are restored between repetitions;
  - logins: POST /api/v1/login through `adc run` with several concurrent clients
    (bench/login-load.c), idle and while full syncs run;
  - memory: peak RSS of adc (imp and run) and adc-server, and the database size.
With --groups (docs/product.md section 10), the directory also holds 1,000 groups, one of them
of every user and the others of 100 users each; adc syncs them (backend.ldap.groups), the floor
adds the `ldapsearch` of the groups with their members, and the step "membership" measures
one member leaving and joining the group of every user through `adc run` (syncrepl): the bytes
of the PATCH adc sends, the time until the cloud shows it, and adc's CPU for it.
With --ldaps, slapd also listens on ldaps:// with a certificate of a CA made for the run, and
adc (backend.ldap.addr, ca_file) and the floor's ldapsearch use that address: Active Directory
allows simple binds only over LDAPS or StartTLS, so that is what password checks cost there.
Every step checks its outcome (exit status 0, the counts in `adc imp --json`, every login
answered as expected); --smoke does only that (small N, no timing targets). Timings are printed
as median and spread (min..max) with the ratio to the floor and the target of docs/product.md section 8 beside them.
ADC_BENCH_KEEP=1 keeps the working directory with every program's log (adc's says how long it
read, planned and wrote) and prints its path.
"""
import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import re
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from harness import ldif  # noqa: E402
from harness.slapd import Slapd, free_port  # noqa: E402
from harness import postgres  # noqa: E402

# What adc asks the directory for with the benchmark's adc.yaml (src/adc/user-map.c: the
# username attribute, the identity candidates, the mapped attributes, the three lock markers).
# The floor asks for exactly these, so the ratio compares equal work on the directory's side.
ADC_ATTRIBUTES = ["mail", "entryUUID", "objectGUID", "nsUniqueId", "displayName", "cn",
                  "givenName", "sn", "userAccountControl", "nsAccountLock",
                  "pwdAccountLockedTime"]
USER_FILTER = "(objectClass=inetOrgPerson)"
# --groups: what adc asks for groups (src/adc/directory/group-read.c), the floor the same.
GROUP_FILTER = "(objectClass=groupOfNames)"
GROUP_ATTRIBUTES = ["cn", "member", "uniqueMember", "memberUid", "entryUUID", "objectGUID",
                    "nsUniqueId", "objectSid"]
N_GROUPS = 1000
SMALL_GROUP = 100  # members of each group but the big one
MEMBERSHIP_CHANGES = 10  # member leaves / joins, alternately, in the big group

# docs/product.md section 8.
TARGETS = {
    "first": 4.0,        # x floor
    "unchanged": 2.5,
    "changed": 3.0,
    "logins_per_s": 1000,
    "p99_idle_ms": 20,
    "p99_sync_ms": 50,
    "adc_rss_mb": 120,
}

ALL_STEPS = ("floor", "first", "unchanged", "changed", "logins", "membership")


class BenchError(RuntimeError):
    """A step did not do what it must: the benchmark stops and says which and why."""


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- running programs -------------------------------------------------------------------------

GNU_TIME = "/usr/bin/time"


def run_measured(argv, stdout_path, stderr_path, timeout, env=None):
    """Runs a program to completion with its output in files. Returns (exit status, wall seconds,
    peak RSS in bytes, CPU seconds user+system).

    The peak comes from GNU time, which forks the program from its own small process. Our own
    wait4() would not do: Linux carries the high-water mark of a process over exec, and this
    driver (holding the generated users) forks the child, so its RSS would count as adc's."""
    rss_path = stderr_path + ".rss"
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        t0 = time.monotonic()
        p = subprocess.Popen([GNU_TIME, "-q", "-f", "%M %U %S", "-o", rss_path, *argv], stdout=out,
                             stderr=err, stdin=subprocess.DEVNULL, env=env)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise BenchError(f"{' '.join(argv)} did not finish within {timeout}s")
        elapsed = time.monotonic() - t0
    with open(rss_path) as f:
        # The figures are the last line (a message about a signal may come first).
        rss_kib, user, system = f.read().split()[-3:]
    os.unlink(rss_path)
    return p.returncode, elapsed, int(rss_kib) * 1024, float(user) + float(system)


def proc_cpu(pid):
    """CPU seconds (user + system) a running process has used so far."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tail(path, n=30):
    try:
        with open(path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
    except OSError:
        return ""


def peak_rss(pid):
    """VmHWM (peak resident set) of a running process, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def http(method, url, body=None, token=None, basic=None, timeout=30):
    """One JSON request; returns (status, parsed body or None)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw = e.read()
        status = e.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


# --- adc-server -------------------------------------------------------------------------------

class Server:
    """adc-server on a temporary SQLite file: init (admin token), serve on a free port, one sync
    configuration for the benchmark."""

    def __init__(self, binary, workdir, engine="sqlite", options=()):
        self.binary = binary
        self.options = list(options)  # before the command, e.g. ["-v"]
        self.dir = workdir
        self.engine = engine
        self.db = os.path.join(workdir, "adc-server.db")
        self.proc = None
        self.port = None
        self.token = None
        self.app_id = None
        self.secret = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def init(self):
        for f in os.listdir(self.dir):
            if f.startswith("adc-server.db"):
                os.unlink(os.path.join(self.dir, f))
        if self.engine == "postgresql":  # a fresh database of the benchmark's cluster
            self.db = postgres.Postgres.shared(crash_safe=True).new_database()
        r = subprocess.run([self.binary, "--db", self.db, "init"], capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise BenchError(f"adc-server init failed ({r.returncode}): {r.stderr.strip()}")
        # init prints the token alone on stdout (the explanation goes to stderr).
        self.token = r.stdout.strip()
        if not self.token or len(self.token.split()) != 1:
            raise BenchError(f"adc-server init printed no token: {r.stdout!r}")

    def start(self):
        self.port = self.port or free_port()
        self.log_path = os.path.join(self.dir, "adc-server.log")
        log_f = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.binary, *self.options, "--db", self.db, "serve",
                                      "--listen", f"127.0.0.1:{self.port}"],
                                     stdout=log_f, stderr=log_f, stdin=subprocess.DEVNULL)
        log_f.close()
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"adc-server exited with {self.proc.returncode}:\n"
                                 f"{tail(self.log_path)}")
            try:
                status, _ = http("GET", f"{self.url}/api/v1/sync-configs", token=self.token,
                                 timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"adc-server did not answer within 30s:\n{tail(self.log_path)}")
            time.sleep(0.05)

    def create_sync_config(self, name="bench"):
        status, body = self.admin("POST", "/api/v1/sync-configs", {"name": name})
        if status != 201 or not isinstance(body, dict):
            raise BenchError(f"POST /api/v1/sync-configs answered {status}: {body}")
        self.app_id, self.secret = body["app_id"], body["secret"]

    def admin(self, method, path, body=None):
        return http(method, self.url + path, body, token=self.token)

    def peak_rss(self):
        return peak_rss(self.proc.pid) if self.proc and self.proc.poll() is None else 0

    def db_size(self):
        return sum(os.path.getsize(os.path.join(self.dir, f)) for f in os.listdir(self.dir)
                   if f.startswith("adc-server.db"))

    def stop(self, check=True):
        """SIGTERM and wait: adc-server finishes requests and closes the database cleanly. With
        check, it must exit 0 and its log must hold no sanitizer report (the smoke run also runs
        under ASan+UBSan in scripts/test.sh)."""
        p, self.proc = self.proc, None
        if not p:
            return
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                if check:
                    raise BenchError("adc-server did not stop within 30s of SIGTERM")
        if check and p.returncode != 0:
            raise BenchError(f"adc-server exited with {p.returncode}:\n{tail(self.log_path)}")
        if check and "Sanitizer" in tail(self.log_path, 100000):
            raise BenchError(f"adc-server's log has a sanitizer report:\n{tail(self.log_path)}")

    def snapshot(self, dest):
        """Copies the database files (server stopped) to dest."""
        os.makedirs(dest, exist_ok=True)
        for f in os.listdir(self.dir):
            if f.startswith("adc-server.db"):
                shutil.copy2(os.path.join(self.dir, f), dest)

    def restore(self, src):
        for f in os.listdir(self.dir):
            if f.startswith("adc-server.db"):
                os.unlink(os.path.join(self.dir, f))
        for f in os.listdir(src):
            shutil.copy2(os.path.join(src, f), self.dir)


# --- the directory side -----------------------------------------------------------------------

def snapshot_slapd(slapd, dest):
    """Copies slapd's mdb files (slapd stopped) to dest; mdb's file is sparse, keep it so."""
    os.makedirs(dest, exist_ok=True)
    src = os.path.join(slapd.dir, "db")
    for f in os.listdir(src):
        subprocess.run(["cp", "--sparse=always", os.path.join(src, f), dest], check=True)


def restore_slapd(slapd, src):
    dst = os.path.join(slapd.dir, "db")
    for f in os.listdir(dst):
        os.unlink(os.path.join(dst, f))
    for f in os.listdir(src):
        subprocess.run(["cp", "--sparse=always", os.path.join(src, f), dst], check=True)


def groups_ldif(n):
    """N_GROUPS groups: "all" of the n users, and groups of SMALL_GROUP users spread over the
    directory. Streams: the big group is n lines."""
    people = f"{ldif.PEOPLE_OU},{ldif.BASE_DN}"
    yield f"dn: ou=groups,{ldif.BASE_DN}\nobjectClass: organizationalUnit\nou: groups\n\n"
    yield f"dn: cn=all,ou=groups,{ldif.BASE_DN}\nobjectClass: groupOfNames\ncn: all\n"
    for i in range(n):
        yield f"member: uid={ldif.regular_user(i).uid},{people}\n"
    yield "\n"
    stride = max(1, n // SMALL_GROUP)
    for g in range(1, N_GROUPS):
        out = [f"dn: cn=group{g:04d},ou=groups,{ldif.BASE_DN}\nobjectClass: groupOfNames\n"
               f"cn: group{g:04d}\n"]
        for k in range(min(SMALL_GROUP, n)):
            out.append(f"member: uid={ldif.regular_user((g + k * stride) % n).uid},{people}\n")
        yield "".join(out) + "\n"


def change_set(n):
    """1% of n users changed: a quarter each renamed (new mail = new userName, new sn, cn and
    displayName: a person who married), edited (displayName, givenName), removed and added.
    Returns (ldif text, expected counts). Users are spread over the whole directory."""
    k = max(4, n // 100)
    q = k // 4
    stride = n // k
    picked = [i * stride + stride // 2 for i in range(k)]
    renamed, edited, removed = picked[0::4][:q], picked[1::4][:q], picked[2::4][:q]
    people = f"{ldif.PEOPLE_OU},{ldif.BASE_DN}"
    out = []
    for i in renamed:
        u = ldif.regular_user(i)
        out.append(f"dn: uid={u.uid},{people}\nchangetype: modify\n"
                   f"replace: mail\nmail: {u.uid}.renamed@{ldif.MAIL_DOMAIN}\n-\n"
                   f"replace: sn\nsn: Renamed{i}\n-\n"
                   f"replace: cn\ncn: Given{i} Renamed{i}\n-\n"
                   f"replace: displayName\ndisplayName: Given{i} Renamed{i}\n-\n\n")
    for i in edited:
        u = ldif.regular_user(i)
        out.append(f"dn: uid={u.uid},{people}\nchangetype: modify\n"
                   f"replace: displayName\ndisplayName: Edited {i}\n-\n"
                   f"replace: givenName\ngivenName: Edited{i}\n-\n\n")
    for i in removed:
        out.append(f"dn: uid={ldif.regular_user(i).uid},{people}\nchangetype: delete\n\n")
    for j in range(q):
        # New people: entryUUID comes from slapd, as it does for any added entry.
        u = ldif.regular_user(n + j)
        dn_line, rest = ldif.entry(u, operational=False).split("\n", 1)
        out.append(f"{dn_line}\nchangetype: add\n{rest}")
    expected = {"created": q, "updated": 2 * q, "disabled": q, "deleted": 0,
                "unchanged": n - 3 * q, "skipped": 0, "failed": 0}
    untouched = sorted(set(range(n)) - set(renamed) - set(edited) - set(removed))
    return "".join(out), expected, untouched


# --- adc --------------------------------------------------------------------------------------

class Adc:
    def __init__(self, binary, workdir, slapd, page_size, ldaps=False, groups=False):
        self.groups = groups
        self.binary = binary
        self.dir = workdir
        self.slapd = slapd
        self.page_size = page_size
        self.ldaps = ldaps
        self.yaml = os.path.join(workdir, "adc.yaml")
        self.cfg = os.path.join(workdir, "adc.cfg")

    def write_config(self, server, n_users):
        s = self.slapd
        addr = s.ldaps_url if self.ldaps else s.url
        ca = f"    ca_file: {s.ca_file}\n" if self.ldaps else ""
        groups = f"    groups:\n      filter: \"{GROUP_FILTER}\"\n" if self.groups else ""
        with open(self.yaml, "w") as f:
            f.write(f"""settings:
  dry-run: false
  no-update: false
  no-create: false
  no-delete: false
  delete-disables: true
  no-update-provider-mismatch: true
  create-as-disabled: false
  max-delete: {max(500, n_users)}
backend:
  ldap:
    addr: {addr}
    bind_dn: {s.service_dn}
    bind_password: {s.service_password}
    base_dn: {s.base_dn}
    scope: sub
{ca}    sync:
      page_size: {self.page_size}
      filter: "{USER_FILTER}"
{groups}    authentication:
      username_attribute: mail
      username_filter_template: "(&(objectClass=inetOrgPerson)(mail=%s))"
      timeout: 5
""")
        with open(self.cfg, "w") as f:
            # state_dir: `adc run`'s live position stays in the benchmark's directory
            f.write(f"server = {server.url}\napp_id = {server.app_id}\n"
                    f"secret = {server.secret}\nyaml = {self.yaml}\n"
                    f"state_dir = {os.path.dirname(self.cfg)}\n")
        # Both hold secrets: readable by their owner only (adc warns otherwise).
        os.chmod(self.yaml, 0o600)
        os.chmod(self.cfg, 0o600)

    def imp(self, label, expected, timeout):
        """adc imp --json; checks exit status 0 and the counts. Returns (seconds, peak RSS, CPU
        seconds)."""
        out = os.path.join(self.dir, f"imp-{label}.json")
        err = os.path.join(self.dir, f"imp-{label}.err")
        # -v: adc's log (imp-*.err) says how long it read, planned and wrote (ADC_BENCH_KEEP).
        status, secs, rss, cpu = run_measured([self.binary, "-C", self.cfg, "-v", "imp", "--json"],
                                              out, err, timeout)
        if status != 0:
            raise BenchError(f"adc imp ({label}) exited with {status}:\n{tail(err)}")
        if "Sanitizer" in tail(err, 100000):
            raise BenchError(f"adc imp ({label}) reported a sanitizer error:\n{tail(err)}")
        with open(out) as f:
            try:
                doc = json.load(f)
            except ValueError as e:
                raise BenchError(f"adc imp --json ({label}) printed no JSON document: {e}")
        stats = doc.get("stats", {})
        if doc.get("dry_run") is not False:
            raise BenchError(f"adc imp ({label}) ran as a dry run: {doc.get('settings')}")
        wrong = {k: (stats.get(k), v) for k, v in expected.items() if stats.get(k) != v}
        if self.groups:
            g = doc.get("groups") or {}
            if g.get("failed") or label.startswith("first") and g.get("created") != N_GROUPS:
                wrong["groups"] = (g, f"{N_GROUPS} created, none failed")
            if label.startswith("unchanged") and (
                    g.get("unchanged") != N_GROUPS or g.get("members_added")
                    or g.get("members_removed") or g.get("members_not_synced")):
                wrong["groups"] = (g, f"{N_GROUPS} unchanged, no member added or removed")
        if wrong:
            raise BenchError(f"adc imp ({label}) counts differ (got, expected): {wrong}")
        return secs, rss, cpu


# --- statistics and the table -----------------------------------------------------------------

def summary(samples):
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "runs": len(samples), "samples": samples}


def fmt_time(s):
    return f"{s['median']:.2f} s ({s['min']:.2f}..{s['max']:.2f}, n={s['runs']})"


def mb(n):
    return n / (1024 * 1024)


def table(res):
    """The result table: [(what, measured, ratio to floor, target, met)]."""
    rows = []
    floor = res.get("floor")
    for key, what in (("floor", "floor: ldapsearch paged"), ("first", "adc imp, first import"),
                      ("unchanged", "adc imp, unchanged"), ("changed", "adc imp, 1% changed")):
        s = res.get(key)
        if not s:
            continue
        if key == "floor":
            rows.append((what, fmt_time(s), "1.00x", "", "", ""))
            continue
        c = res.get("cpu", {}).get(key)
        cpu = (" / ".join(f"{statistics.median(c[k]):.2f}" for k in ("adc", "server", "slapd"))
               if c else "")
        ratio = s["median"] / floor["median"] if floor else None
        target = TARGETS[key]
        rows.append((what, fmt_time(s), f"{ratio:.2f}x" if ratio else "-", f"<= {target}x",
                     ("yes" if ratio <= target else "NO") if ratio else "", cpu))
    lg = res.get("logins")
    if lg:
        for mode, p99 in (("idle", TARGETS["p99_idle_ms"]), ("sync", TARGETS["p99_sync_ms"])):
            m = lg.get(mode)
            if not m:
                continue
            label = "logins idle" if mode == "idle" else "logins during sync"
            rows.append((f"{label}: throughput", f"{m['per_second']:.0f}/s ({m['requests']} req, "
                         f"{lg['clients']} clients)", "", f">= {TARGETS['logins_per_s']}/s",
                         "yes" if m["per_second"] >= TARGETS["logins_per_s"] else "NO", ""))
            rows.append((f"{label}: p50 / p99", f"{m['p50_ms']:.1f} / {m['p99_ms']:.1f} ms", "",
                         f"p99 < {p99} ms", "yes" if m["p99_ms"] < p99 else "NO", ""))
    ms = res.get("membership")
    if ms:
        rows.append((f"membership change in the {res['users']:,}-member group: sent",
                     f"{ms['bytes']['median']:.0f} bytes ({ms['bytes']['min']:.0f}.."
                     f"{ms['bytes']['max']:.0f}, n={ms['changes']})", "", "one small PATCH",
                     "yes" if ms["bytes"]["max"] < 1000 else "NO", ""))
        rows.append(("membership change: in the cloud after", fmt_time(ms["seconds"]), "",
                     "< 2 s", "yes" if ms["seconds"]["median"] < 2 else "NO",
                     f"{statistics.median(ms['adc_cpu']['samples']):.3f}"))
    mem = res.get("memory", {})
    if "adc_imp" in mem:
        rows.append(("adc imp peak RSS", f"{mb(mem['adc_imp']):.1f} MB", "",
                     f"< {TARGETS['adc_rss_mb']} MB",
                     "yes" if mb(mem["adc_imp"]) < TARGETS["adc_rss_mb"] else "NO", ""))
    if "adc_run" in mem:
        rows.append(("adc run peak RSS", f"{mb(mem['adc_run']):.1f} MB", "", "", "", ""))
    if "server" in mem:
        rows.append(("adc-server peak RSS", f"{mb(mem['server']):.1f} MB", "", "", "", ""))
    if "db_bytes" in mem:
        rows.append(("adc-server database", f"{mb(mem['db_bytes']):.1f} MB", "", "", "", ""))
    return rows


def print_table(res, f=sys.stdout):
    rows = [("step", "measured: median (min..max)", "x floor", "target", "met",
             "CPU s: adc / server / slapd")] + table(res)
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    load = res.get("load")
    f.write(f"\n{res['users']:,} users" + (f" and {N_GROUPS:,} groups" if res.get("groups") else "")
            + f", page size {res['page_size']}, build {res['buildtype']}"
            + (", over ldaps://" if res.get("ldaps") else "")
            + (f", load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} at the end (1/5/15 min)"
               if load else "") + "\n")
    for j, r in enumerate(rows):
        f.write("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |\n")
        if j == 0:
            f.write("|" + "|".join("-" * (w + 2) for w in widths) + "|\n")
    f.flush()


# --- the steps --------------------------------------------------------------------------------

class Bench:
    def __init__(self, args, n_users, workdir):
        self.a = args
        self.n = n_users
        self.dir = workdir
        self.res = {"users": n_users, "page_size": args.page_size, "memory": {},
                    "buildtype": buildtype(args.build), "ldaps": args.ldaps,
                    "groups": args.groups}
        self.adc_bin = os.path.join(args.build, "src", "adc", "adc")
        self.server_bin = os.path.join(args.build, "src", "server", "adc-server")
        self.load_bin = os.path.join(args.build, "bench", "adc-bench-login")
        # Generous bounds: a run that takes longer than this is broken, not slow.
        self.timeout = max(300, self.n // 100)
        self.slapd = None
        self.server = None
        self.adc = None

    def runs(self, step):
        if self.n >= 1_000_000:
            return max(1, min(self.a.runs, 2))
        return self.a.runs

    def setup_directory(self):
        path = os.path.join(self.dir, "users.ldif")
        t0 = time.monotonic()
        ldif.write(path, ldif.generate(self.n, special=False), include_base=False)
        if self.a.groups:
            with open(path, "a", encoding="utf-8") as f:
                f.writelines(groups_ldif(self.n))
        t1 = time.monotonic()
        # syncprov: the membership step watches the directory as `adc run` does by default.
        self.slapd = Slapd(ldif=path, tls=self.a.ldaps, syncprov=self.a.groups)
        self.slapd.setup()
        t2 = time.monotonic()
        self.slapd.start()
        os.unlink(path)
        log(f"{self.n:,} users: LDIF written in {t1 - t0:.1f}s, slapadd {t2 - t1:.1f}s")

    def floor(self):
        s = self.slapd
        url = s.ldaps_url if self.a.ldaps else s.url
        argv = ["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", url, "-D",
                s.service_dn, "-w", s.service_password, "-b", s.base_dn, "-s", "sub",
                "-E", f"pr={self.a.page_size}/noprompt", USER_FILTER, *ADC_ATTRIBUTES]
        # An untimed first run warms slapd's cache (adc's runs find it warm too) and proves the
        # search returns every user.
        env = dict(os.environ, LDAPTLS_CACERT=s.ca_file) if self.a.ldaps else None
        r = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout, env=env)
        if r.returncode != 0:
            raise BenchError(f"ldapsearch failed ({r.returncode}): {r.stderr.strip()}")
        got = sum(1 for line in r.stdout.splitlines() if line.startswith("dn:"))
        if got != self.n:
            raise BenchError(f"ldapsearch returned {got} entries, expected {self.n}")
        if self.a.groups:
            # The groups with their members, as adc reads them: the floor is both searches.
            gargv = argv[:-(len(ADC_ATTRIBUTES) + 1)] + [GROUP_FILTER, *GROUP_ATTRIBUTES]
            r = subprocess.run(gargv, capture_output=True, text=True, timeout=self.timeout,
                               env=env)
            got = sum(1 for line in r.stdout.splitlines() if line.startswith("dn:"))
            if r.returncode != 0 or got != N_GROUPS:
                raise BenchError(f"ldapsearch of the groups: {got} entries, expected {N_GROUPS} "
                                 f"({r.returncode}): {r.stderr.strip()}")
            argv = ["sh", "-c", f"{shlex.join(argv)} >/dev/null && {shlex.join(gargv)}"]
        samples = []
        for _ in range(self.runs("floor")):
            out = os.path.join(self.dir, "floor.out")
            status, secs, _, _ = run_measured(argv, os.devnull, out, self.timeout, env=env)
            if status != 0:
                raise BenchError(f"ldapsearch failed ({status}): {tail(out)}")
            samples.append(secs)
        self.res["floor"] = summary(samples)
        log(f"floor: {fmt_time(self.res['floor'])}")

    def timed_imp(self, step, label, expected):
        """One adc imp, with the CPU time adc, adc-server and slapd spent on it (on a shared
        machine CPU time says more about the work than wall time does)."""
        s0, d0 = proc_cpu(self.server.proc.pid), proc_cpu(self.slapd.pid)
        secs, rss, cpu = self.adc.imp(label, expected, self.timeout)
        cpus = self.res.setdefault("cpu", {}).setdefault(step, {"adc": [], "server": [],
                                                                 "slapd": []})
        cpus["adc"].append(cpu)
        cpus["server"].append(proc_cpu(self.server.proc.pid) - s0)
        cpus["slapd"].append(proc_cpu(self.slapd.pid) - d0)
        self.res["memory"]["adc_imp"] = max(self.res["memory"].get("adc_imp", 0), rss)
        return secs, rss

    def start_server(self):
        self.server = Server(self.server_bin, self.dir, self.a.db)
        self.adc = Adc(self.adc_bin, self.dir, self.slapd, self.a.page_size, self.a.ldaps,
                       self.a.groups)

    def fresh_server(self):
        self.server.stop()
        self.server.init()
        self.server.start()
        self.server.create_sync_config()
        self.adc.write_config(self.server, self.n)

    def first(self):
        expected = {"created": self.n, "updated": 0, "deleted": 0, "disabled": 0,
                    "unchanged": 0, "skipped": 0, "failed": 0}
        samples, rss, srv = [], 0, 0
        for i in range(self.runs("first")):
            self.fresh_server()
            secs, r = self.timed_imp("first", f"first{i}", expected)
            samples.append(secs)
            rss = max(rss, r)
            srv = max(srv, self.server.peak_rss())
            log(f"first import {i + 1}: {secs:.2f}s, adc peak RSS {mb(r):.1f} MB")
            if self.a.groups:
                self.check_big_group()
        self.res["first"] = summary(samples)
        self.res["memory"]["server"] = max(srv, self.res["memory"].get("server", 0))
        self.res["memory"]["db_bytes"] = self.server.db_size()

    def check_big_group(self):
        """The group of every user holds every user in the cloud (docs/product.md section 14:
        correct at 1,000,000 members, not only fast)."""
        status, body = self.server.admin(
            "GET", "/scim/v2/Groups?filter=" + urllib.parse.quote('displayName eq "all"')
            + "&excludedAttributes=members")
        ext = "urn:adconnect:scim:schemas:extension:sync:2.0:Group"
        got = (body["Resources"][0].get(ext, {}).get("memberCount")
               if status == 200 and body.get("totalResults") == 1 else None)
        if got != self.n:
            raise BenchError(f"the group 'all' has {got} members in the cloud, expected {self.n}")

    def unchanged(self):
        expected = {"created": 0, "updated": 0, "deleted": 0, "disabled": 0,
                    "unchanged": self.n, "skipped": 0, "failed": 0}
        samples = []
        for i in range(self.runs("unchanged")):
            secs, r = self.timed_imp("unchanged", f"unchanged{i}", expected)
            samples.append(secs)
            self.res["memory"]["adc_imp"] = max(self.res["memory"].get("adc_imp", 0), r)
            log(f"unchanged {i + 1}: {secs:.2f}s, adc peak RSS {mb(r):.1f} MB")
        self.res["unchanged"] = summary(samples)
        self.res["memory"]["server"] = max(self.server.peak_rss(),
                                           self.res["memory"].get("server", 0))

    def changed(self):
        text, expected, _ = change_set(self.n)
        snap = os.path.join(self.dir, "snapshot")
        # The state after the first import, to return to before each repetition.
        self.server.stop()
        self.server.snapshot(os.path.join(snap, "server"))
        self.slapd.stop()
        snapshot_slapd(self.slapd, os.path.join(snap, "slapd"))
        samples = []
        for i in range(self.runs("changed")):
            if i > 0:
                self.server.stop()
                self.slapd.stop()
                restore_slapd(self.slapd, os.path.join(snap, "slapd"))
                self.server.restore(os.path.join(snap, "server"))
            self.slapd.start()
            self.server.start()
            self.slapd.ldapmodify(text)
            secs, r = self.timed_imp("changed", f"changed{i}", expected)
            samples.append(secs)
            self.res["memory"]["adc_imp"] = max(self.res["memory"].get("adc_imp", 0), r)
            log(f"1% changed {i + 1}: {secs:.2f}s")
        self.res["changed"] = summary(samples)
        self.res["changes"] = expected
        self.res["memory"]["server"] = max(self.server.peak_rss(),
                                           self.res["memory"].get("server", 0))
        # Back to the unchanged directory for what follows.
        self.server.stop()
        self.slapd.stop()
        restore_slapd(self.slapd, os.path.join(snap, "slapd"))
        self.server.restore(os.path.join(snap, "server"))
        self.slapd.start()
        self.server.start()
        shutil.rmtree(snap)

    # --- password checks through the agent ---------------------------------------------------
    def start_agent(self):
        """`adc run` for the benchmark's configuration; returns when the server shows it
        connected."""
        self.agent_log = os.path.join(self.dir, "adc-run.log")
        log_f = open(self.agent_log, "ab")
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        self.agent = subprocess.Popen([self.adc_bin, "-C", self.adc.cfg, "run"], stdout=log_f,
                                      stderr=log_f, stdin=subprocess.DEVNULL, env=env)
        log_f.close()
        deadline = time.monotonic() + 30
        while True:
            if self.agent.poll() is not None:
                raise BenchError(f"adc run exited with {self.agent.returncode}:\n"
                                 f"{tail(self.agent_log)}")
            status, body = self.server.admin("GET", f"/api/v1/sync-configs/{self.server.app_id}")
            if status == 200 and isinstance(body, dict) and (
                    body.get("connected") is True or body.get("agent_connected") is True):
                return
            if time.monotonic() > deadline:
                raise BenchError(f"adc run did not connect within 30s (last answer {status} "
                                 f"{body}):\n{tail(self.agent_log)}")
            time.sleep(0.1)

    def stop_agent(self):
        a = getattr(self, "agent", None)
        if a and a.poll() is None:
            a.terminate()
            try:
                a.wait(30)
            except subprocess.TimeoutExpired:
                a.kill()
                a.wait()
                raise BenchError("adc run did not stop within 30s of SIGTERM")
            if a.returncode != 0:
                raise BenchError(f"adc run exited with {a.returncode} on SIGTERM:\n"
                                 f"{tail(self.agent_log)}")
            if "Sanitizer" in tail(self.agent_log, 100000):
                raise BenchError(f"adc run's log has a sanitizer report:\n{tail(self.agent_log)}")
        self.agent = None

    def login(self, username, password):
        return http("POST", f"{self.server.url}/api/v1/login",
                    {"username": username, "password": password})

    def login_load(self, users_file, label, seconds, stop_event=None):
        """Runs the load generator; returns its per-request records [(start, latency, status,
        expected)] and its summary. With stop_event, stops early when the event is set."""
        records = os.path.join(self.dir, f"logins-{label}.txt")
        argv = [self.load_bin, "--url", f"{self.server.url}/api/v1/login", "--users", users_file,
                "--clients", str(self.a.clients), "--duration", str(seconds), "--out", records]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if stop_event is not None:
            while p.poll() is None:
                if stop_event.wait(0.1):
                    p.send_signal(signal.SIGINT)
                    break
        out, err = p.communicate(timeout=seconds + 120)
        try:
            summary_doc = json.loads(out)
        except ValueError:
            raise BenchError(f"adc-bench-login ({label}) failed ({p.returncode}): {err.strip()}")
        if p.returncode != 0:
            raise BenchError(f"logins ({label}): not every login got its expected answer: "
                             f"{summary_doc}\nagent log:\n{tail(self.agent_log)}")
        with open(records) as f:
            recs = [(float(a), float(b), int(c), int(d))
                    for a, b, c, d in (line.split() for line in f)]
        os.unlink(records)
        return recs, summary_doc

    @staticmethod
    def login_stats(recs, seconds):
        lat = sorted(r[1] for r in recs)
        if not lat:
            raise BenchError("no login was measured")

        def pct(p):
            return lat[min(len(lat) - 1, int(p * (len(lat) - 1) + 0.5))] * 1000
        return {"requests": len(lat), "seconds": seconds, "per_second": len(lat) / seconds,
                "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": lat[-1] * 1000}

    def sync_loop(self, stop, windows, errors, min_seconds):
        """Full syncs through the agent, one after the other, until at least min_seconds of
        sync time have passed; windows gets (start, end) of each (time.monotonic())."""
        url = f"/api/v1/sync-configs/{self.server.app_id}/sync"
        try:
            while sum(e - s for s, e in windows) < min_seconds:
                waited = time.monotonic()
                status, body = self.server.admin("POST", url, {"dry_run": False})
                # 409: another run of this configuration is under way (`adc run`'s startup
                # sync, or with groups its full sync that rebuilds the group graph): one sync at
                # a time, so wait for it and ask again.
                while status == 409 and time.monotonic() - waited < self.timeout:
                    time.sleep(0.1)
                    status, body = self.server.admin("POST", url, {"dry_run": False})
                t0 = time.monotonic()
                if status != 202:
                    errors.append(f"POST {url} answered {status}: {body}")
                    return
                run_id = body["run_id"]
                while True:
                    status, run = self.server.admin("GET", f"/api/v1/runs/{run_id}")
                    if status != 200:
                        errors.append(f"GET /api/v1/runs/{run_id} answered {status}: {run}")
                        return
                    if run.get("status") in ("succeeded", "failed"):
                        break
                    if time.monotonic() - t0 > self.timeout:
                        errors.append(f"sync {run_id} did not finish within {self.timeout}s")
                        return
                    time.sleep(0.02)
                windows.append((t0, time.monotonic()))
                stats = run.get("stats") or {}
                if run["status"] != "succeeded" or stats.get("unchanged") != self.n:
                    errors.append(f"sync {run_id} through the agent: {run}")
                    return
        except Exception as e:  # reported by the caller, which stops the load
            errors.append(f"sync loop: {e!r}")
        finally:
            stop.set()

    def logins(self):
        self.start_agent()
        # Correctness first: accepted, wrong password, unknown user, empty password.
        u = ldif.regular_user(self.n // 3)
        for name, pw, want in ((u.mail[0], u.password, 200), (u.mail[0], "wrong", 401),
                               ("nobody@example.org", "x", 401), (u.mail[0], "", 401)):
            status, body = self.login(name, pw)
            if status != want:
                raise BenchError(f"login {name!r} with {'the right' if want == 200 else 'a bad'} "
                                 f"password answered {status} (expected {want}): {body}\n"
                                 f"agent log:\n{tail(self.agent_log)}")
        # The load: right passwords only. A denied login is slowed down on purpose (200 ms
        # in adc-server), which would measure that pause, not the path.
        users_file = os.path.join(self.dir, "logins.tsv")
        step = max(1, self.n // 20000)
        with open(users_file, "w") as f:
            for i in range(0, self.n, step):
                v = ldif.regular_user(i)
                f.write(f"{v.mail[0]}\t{v.password}\t200\n")
        secs = self.a.login_seconds
        res = {"clients": self.a.clients}
        recs, _ = self.login_load(users_file, "idle", secs)
        res["idle"] = self.login_stats(recs, secs)
        log(f"logins idle: {res['idle']}")
        # During full syncs: the load runs while the agent syncs, back to back, for at least
        # login_seconds; only requests that started while a sync ran count.
        stop, windows, errors = threading.Event(), [], []
        t = threading.Thread(target=self.sync_loop, args=(stop, windows, errors, secs))
        t.start()
        try:
            recs, _ = self.login_load(users_file, "sync", secs * 20 + self.timeout, stop)
        except BenchError as e:
            # a sync that failed stops the load early: its cause comes first
            stop.set()
            t.join()
            raise BenchError("; ".join(errors + [str(e)]))
        finally:
            stop.set()
            t.join()
        if errors:
            raise BenchError("; ".join(errors))
        inside = [r for r in recs if any(s <= r[0] < e for s, e in windows)]
        res["sync"] = self.login_stats(inside, sum(e - s for s, e in windows))
        res["sync"]["syncs"] = len(windows)
        log(f"logins during {len(windows)} sync(s): {res['sync']}")
        self.res["logins"] = res
        self.res["memory"]["adc_run"] = peak_rss(self.agent.pid)
        self.res["memory"]["server"] = max(self.server.peak_rss(),
                                           self.res["memory"].get("server", 0))
        self.stop_agent()

    def membership(self):
        """One member leaves, then joins, the group of every user, through `adc run` (syncrepl
        from slapd's syncprov): bytes adc sends for it, seconds until the cloud shows it (from
        the end of ldapmodify), adc's CPU for it."""
        log_path = os.path.join(self.dir, "adc-run.log")
        started = os.path.getsize(log_path) if os.path.exists(log_path) else 0
        self.start_agent()
        deadline = time.monotonic() + self.timeout

        def this_run_log():  # the log is appended to by every `adc run` of the benchmark
            with open(log_path, "rb") as f:
                f.seek(started)
                return f.read().decode(errors="replace")
        while "live changes: baseline set" not in this_run_log():
            if time.monotonic() > deadline or self.agent.poll() is not None:
                raise BenchError(f"adc run set no live baseline:\n{tail(self.agent_log)}")
            time.sleep(0.2)
        status, body = self.server.admin(
            "GET", "/scim/v2/Groups?filter=" + urllib.parse.quote('displayName eq "all"')
            + "&excludedAttributes=members")
        if status != 200 or body.get("totalResults") != 1:
            raise BenchError(f"the group 'all' is not in the cloud: {status} {body}")
        gid = body["Resources"][0]["id"]
        ext = "urn:adconnect:scim:schemas:extension:sync:2.0:Group"

        def count():
            st, g = self.server.admin("GET", f"/scim/v2/Groups/{gid}?excludedAttributes=members")
            return g.get(ext, {}).get("memberCount") if st == 200 else None
        if count() != self.n:
            raise BenchError(f"the group 'all' has {count()} members, expected {self.n}")
        group_dn = f"cn=all,ou=groups,{ldif.BASE_DN}"
        people = f"{ldif.PEOPLE_OU},{ldif.BASE_DN}"
        seconds, cpu, sent = [], [], []
        for k in range(MEMBERSHIP_CHANGES):
            member = f"uid={ldif.regular_user(self.n // 2).uid},{people}"
            leave = k % 2 == 0
            before_log = len(open(self.agent_log, "rb").read())
            c0 = proc_cpu(self.agent.pid)
            self.slapd.ldapmodify(f"dn: {group_dn}\nchangetype: modify\n"
                                  f"{'delete' if leave else 'add'}: member\nmember: {member}\n")
            t0 = time.monotonic()
            want = self.n - 1 if leave else self.n
            while count() != want:
                if time.monotonic() - t0 > 60:
                    raise BenchError(f"the membership change did not arrive within 60 s:\n"
                                     f"{tail(self.agent_log)}")
                time.sleep(0.01)
            seconds.append(time.monotonic() - t0)
            # The change's log line (written after the PATCH was accepted) names its bytes.
            line = ""
            while "update group 'all'" not in line:
                with open(self.agent_log, "rb") as f:
                    f.seek(before_log)
                    line = f.read().decode(errors="replace")
                if time.monotonic() - t0 > 60:
                    raise BenchError(f"no log line for the change:\n{tail(self.agent_log)}")
                time.sleep(0.01)
            cpu.append(proc_cpu(self.agent.pid) - c0)
            m = re.search(r"update group 'all': \+(\d+) -(\d+) members in 1 group \((\d+) bytes\)",
                          line)
            if not m or (m.group(1), m.group(2)) != (("0", "1") if leave else ("1", "0")):
                raise BenchError(f"unexpected membership change: {line.strip()}")
            sent.append(int(m.group(3)))
        self.res["membership"] = {"seconds": summary(seconds), "adc_cpu": summary(cpu),
                                  "bytes": summary(sent), "changes": MEMBERSHIP_CHANGES}
        self.res["memory"]["adc_run"] = peak_rss(self.agent.pid)
        log(f"membership changes: {self.res['membership']}")
        self.stop_agent()

    def close(self):
        a = getattr(self, "agent", None)
        if a and a.poll() is None:
            a.kill()
            a.wait()
        if self.server:
            self.server.stop(check=False)  # cleaning up after a failure: say nothing more
        if self.slapd:
            self.slapd.close()


def buildtype(build):
    """The build type of a meson build directory, from its introspection data."""
    try:
        with open(os.path.join(build, "meson-info", "intro-buildoptions.json")) as f:
            for o in json.load(f):
                if o["name"] == "buildtype":
                    return o["value"]
    except (OSError, ValueError, KeyError):
        pass
    return "unknown"


def run_size(args, n, steps):
    workdir = tempfile.mkdtemp(prefix="adc-bench-")
    b = Bench(args, n, workdir)
    try:
        b.setup_directory()
        if "floor" in steps:
            b.floor()
        if any(s in steps for s in ("first", "unchanged", "changed", "logins")):
            b.start_server()
            b.first()  # the later steps need the users in the server
            if "unchanged" in steps:
                b.unchanged()
            if "changed" in steps:
                b.changed()
            if "logins" in steps:
                b.logins()
            if "membership" in steps and args.groups:
                b.membership()
        b.res["load"] = os.getloadavg()
        if b.server:
            b.server.stop()  # checked: exit 0, no sanitizer report
        return b.res
    finally:
        b.close()
        if os.environ.get("ADC_BENCH_KEEP") == "1":  # every program's log, for a closer look
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def machine():
    def cmd(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.strip()
        except OSError:
            return ""
    model = ""
    for line in cmd(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    mem = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    debian = ""
    try:
        with open("/etc/debian_version") as f:
            debian = f.read().strip()
    except OSError:
        pass
    commit = cmd(["git", "-C", ROOT, "describe", "--always", "--dirty"])
    return {"commit": commit, "cpu": model, "cpus": os.cpu_count(),
            "memory_gb": round(mem / 2**30, 1),
            "debian": debian, "kernel": platform.release(),
            "load": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(ROOT, "build-bench"),
                   help="meson build directory holding adc, adc-server, adc-bench-login")
    p.add_argument("--users", type=int, default=100_000)
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite",
                   help="adc-server's store: a SQLite file, or a database of a PostgreSQL "
                        "cluster the benchmark starts (as the tests do: harness/postgres.py)")
    p.add_argument("--runs", type=int, default=3, help="repetitions of each timed step")
    p.add_argument("--page-size", type=int, default=500,
                   help="LDAP page size, for adc and the floor alike (adc's default is 500)")
    p.add_argument("--clients", type=int, default=8, help="concurrent login clients")
    p.add_argument("--login-seconds", type=float, default=10)
    p.add_argument("--steps", default=",".join(ALL_STEPS),
                   help="comma-separated subset of " + ",".join(ALL_STEPS))
    p.add_argument("--scaling", action="store_true",
                   help="also run floor and imp at 10,000 and 100,000 users (see --million)")
    p.add_argument("--million", action="store_true", help="add 1,000,000 users to --scaling")
    p.add_argument("--smoke", action="store_true",
                   help="check that every step works; print the table but judge no timing")
    p.add_argument("--json", help="write all results to this file")
    p.add_argument("--groups", action="store_true",
                   help="1,000 groups (one of every user) synced too; the floor includes their "
                        "ldapsearch; the membership step measures one change in the big group")
    p.add_argument("--ldaps", action="store_true",
                   help="adc and the floor talk to slapd over ldaps:// (a CA made for the run)")
    args = p.parse_args()
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    bad = [s for s in steps if s not in ALL_STEPS]
    if bad or args.users < 100 or args.runs < 1:
        p.error(f"unknown steps {bad}" if bad else "--users must be >= 100, --runs >= 1")
    for b in ("src/adc/adc", "src/server/adc-server", "bench/adc-bench-login"):
        if not os.access(os.path.join(args.build, b), os.X_OK):
            p.error(f"{os.path.join(args.build, b)} is missing: build first (bench/run.sh does)")

    results = {"machine": machine(), "main": None, "scaling": []}
    m = results["machine"]
    print(f"ad-connect {m['commit']} on {m['cpus']} x {m['cpu']}, {m['memory_gb']} GB, "
          f"Debian {m['debian']}, {m['date']}", flush=True)
    try:
        results["main"] = run_size(args, args.users, steps)
        print_table(results["main"])
        if args.scaling:
            sizes = [10_000, 100_000] + ([1_000_000] if args.million else [])
            for n in sizes:
                if n == args.users:
                    r = results["main"]
                else:
                    r = run_size(args, n, [s for s in steps if s != "logins"])
                results["scaling"].append(r)
            print_scaling(results["scaling"])
    except (BenchError, RuntimeError) as e:  # RuntimeError: the slapd harness
        log(f"FAILED: {e}")
        return 1
    finally:
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2)
    if args.smoke:
        log("smoke run: every step worked (timings not judged)")
    return 0


def print_scaling(rows, f=sys.stdout):
    f.write("\nScaling (medians; per 1,000 users in brackets)\n")
    head = ("users", "floor", "first import", "unchanged", "1% changed",
            "first import CPU adc / server", "adc peak RSS", "server peak RSS", "database")
    lines = [head]
    for r in rows:
        n = r["users"]

        def t(key):
            s = r.get(key)
            return f"{s['median']:.2f} s [{s['median'] * 1000 / n * 1000:.1f} ms]" if s else "-"
        m = r.get("memory", {})

        def sz(key):
            return f"{mb(m[key]):.1f} MB" if key in m else "-"
        c = r.get("cpu", {}).get("first")
        cpu = (f"{statistics.median(c['adc']):.2f} / {statistics.median(c['server']):.2f} s"
               if c else "-")
        lines.append((f"{n:,}", t("floor"), t("first"), t("unchanged"), t("changed"), cpu,
                      sz("adc_imp"), sz("server"), sz("db_bytes")))
    widths = [max(len(x[i]) for x in lines) for i in range(len(head))]
    for j, x in enumerate(lines):
        f.write("| " + " | ".join(c.ljust(w) for c, w in zip(x, widths)) + " |\n")
        if j == 0:
            f.write("|" + "|".join("-" * (w + 2) for w in widths) + "|\n")


if __name__ == "__main__":
    sys.exit(main())
