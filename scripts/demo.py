#!/usr/bin/env python3
"""The demo of scripts/demo.sh: a throw-away directory (slapd with dist/demo/people.ldif and the
syncprov overlay) kept in step with a throw-away adc-server.

  1. `adc imp --dry-run`, `adc imp`, and `adc imp` again after the directory changed;
  2. `adc run`, the agent: its startup full sync (the run record), then changes made in the
     directory with ldapadd/ldapmodify/ldapdelete arriving in the cloud by themselves (RFC 4533
     syncrepl, docs/adc.8 LIVE CHANGES), each timed by polling the SCIM API.

Every step checks its own result: the exit status is 0 only when each did what it says, 1
otherwise (the first failed check is printed). Everything runs on 127.0.0.1 in temporary
directories that are removed at the end, whatever happened.

Uses the test harness (tests/integration/harness) to start slapd and adc-server; needs the
programs built (ADC_BIN / ADC_SERVER_BIN, default build/...). tests/integration/test_demo.py
runs it. --verbose also prints adc.cfg, adc.yaml, the whole output of each adc command and the
log of adc run."""
import os
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("ADC_BIN", os.path.join(ROOT, "build", "src", "adc", "adc"))
os.environ.setdefault("ADC_SERVER_BIN", os.path.join(ROOT, "build", "src", "server", "adc-server"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from harness.programs import ADC  # noqa: E402
from harness.server import AdcServer  # noqa: E402
from harness.slapd import Slapd  # noqa: E402

TTY = sys.stdout.isatty()
BOLD = "\033[1m" if TTY else ""
DIM = "\033[2m" if TTY else ""
RESET = "\033[0m" if TTY else ""
PROVIDER = "urn:adconnect:scim:schemas:extension:sync:2.0:User"
PEOPLE = "ou=people,dc=example,dc=org"
# How long a live change may take to show in the cloud before the demo calls it a failure.
# docs/product.md section 9 promises an OpenLDAP change within 2 s; the margin is for a loaded
# machine (CI runs the demo under ASan+UBSan too).
LIVE_DEADLINE_S = 15.0
VERBOSE = False


class DemoFailed(Exception):
    """A step did not do what the demo says it does."""


def step(text):
    print(f"{BOLD}==> {text}{RESET}", flush=True)


def note(text):
    print(f"    {text}", flush=True)


def detail(text):
    if VERBOSE:
        print(f"{DIM}{text}{RESET}", flush=True)


def check(ok, what):
    if not ok:
        raise DemoFailed(what)


def user_dn(uid):
    return f"uid={uid},{PEOPLE}"


def run_adc(cfg, *args):
    """Runs adc; demands exit status 0; returns its output."""
    r = subprocess.run([ADC, "-C", cfg, *args], text=True, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=120)
    detail(f"$ adc -C {os.path.basename(cfg)} {' '.join(args)}\n{r.stdout.rstrip()}")
    check(r.returncode == 0, f"adc {' '.join(args)} exited with status {r.returncode}:\n"
          f"{r.stdout.rstrip()}")
    return r.stdout


def plan_of(output):
    """The plan lines of adc imp's output ("create   alice@example.org   reason")."""
    ops = ("create", "update", "delete", "disable", "enable")
    return [" ".join(line.split()) for line in output.splitlines()
            if line.startswith("  ") and line.split()[0] in ops]


def summary_of(output):
    lines = [line for line in output.splitlines() if line.startswith("Summary")]
    check(lines, "adc imp printed no Summary line")
    return lines[-1]


class Cloud:
    """The cloud as the System Administrator sees it through the SCIM API."""

    def __init__(self, srv, app_id):
        self.srv = srv
        self.app_id = app_id

    def users(self):
        r = self.srv.admin("GET", "/scim/v2/Users?count=1000", timeout=10)
        check(r.status == 200, f"GET /scim/v2/Users answered {r.status}")
        return {u["userName"]: u for u in r.body.get("Resources", [])}

    def owned(self, users=None):
        users = self.users() if users is None else users
        return {n: u for n, u in users.items() if u.get(PROVIDER, {}).get("provider") == self.app_id}

    def expect(self, active, inactive=(), absent=(), local=("cloud.admin@example.org",)):
        """The cloud holds exactly these users of this sync (active / inactive), none of
        `absent`, and the hand-made `local` users untouched."""
        users = self.users()
        owned = self.owned(users)
        want = {n: True for n in active}
        want.update({n: False for n in inactive})
        got = {n: u.get("active", True) for n, u in owned.items()}
        check(got == want, f"the cloud's users of this sync are {sorted(got.items())}, "
              f"expected {sorted(want.items())}")
        for n in absent:
            check(n not in users, f"{n} is still in the cloud")
        for n in local:
            check(n in users and n not in owned, f"the local user {n} was touched")
        return users

    def table(self):
        users = self.users()
        w1 = max(len(n) for n in users)
        w2 = max(len(u.get("displayName", "")) for u in users.values())
        for name in sorted(users, key=str.lower):
            u = users[name]
            owner = u.get(PROVIDER, {}).get("provider", "?")
            owner = "this sync" if owner == self.app_id else owner
            note(f"{name:<{w1}}  {u.get('displayName', ''):<{w2}}  "
                 f"{'active' if u.get('active', True) else 'disabled':<8}  {owner}")


def write_configs(srv, ldap, cfg, work):
    """adc.cfg (the cloud connection, state_dir for the live-change position) and adc.yaml (the
    demo directory; watch defaults to auto, which finds syncprov in the root DSE)."""
    cfg_path = os.path.join(work, "adc.cfg")
    yaml_path = os.path.join(work, "adc.yaml")
    state_dir = os.path.join(work, "state")
    os.makedirs(state_dir, mode=0o700)
    with open(cfg_path, "w") as f:
        f.write(f"# the cloud connection\nserver = {srv.url}\napp_id = {cfg['app_id']}\n"
                f"secret = {cfg['secret']}\nyaml = adc.yaml\n"
                f"# where adc run keeps its position in the directory's changes\n"
                f"state_dir = {state_dir}\n")
    os.chmod(cfg_path, 0o600)
    ldap.adc_yaml(yaml_path)
    with open(yaml_path) as f:
        text = f.read()
    text = text.replace("settings:\n  dry-run: true\n",
                        "settings:\n  delete-disables: true\n"
                        "  no-update-provider-mismatch: true\n", 1)
    with open(yaml_path, "w") as f:
        f.write(text)
    for path in (cfg_path, yaml_path):
        with open(path) as f:
            detail(f"--- {path}\n{f.read().rstrip()}")
    return cfg_path


def part_imp(ldap, cloud, cfg_path):
    """adc imp: a preview, the first sync, the directory changes, the next sync."""
    people = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
    mails = [f"{p}@example.org" for p in people]

    step("adc imp --dry-run: the preview, nothing written")
    out = run_adc(cfg_path, "imp", "--dry-run")
    plan = plan_of(out)
    check(plan == [f"create {m}" for m in mails], f"unexpected plan {plan}")
    note(f"would create {len(plan)}: {', '.join(people)} (@example.org)")
    cloud.expect(active=[])
    note("the cloud still has only cloud.admin@example.org (a local user, made by hand)")

    step("adc imp: the first synchronization")
    out = run_adc(cfg_path, "imp")
    note(summary_of(out))
    cloud.expect(active=mails)
    note("the cloud has the 8 people, owned by this sync; cloud.admin untouched")

    step("The directory changes while nothing watches it")
    ldap.ldapmodify(f"dn: {user_dn('bob')}\nchangetype: modify\n"
                    "replace: mail\nmail: robert.dupont@example.org\n-\n"
                    "replace: displayName\ndisplayName: Robert Dupont\n")
    ldap.lock(user_dn("dave"))
    ldap.ldapdelete(user_dn("frank"))
    ldap.ldapadd(f"dn: {user_dn('ivan')}\nobjectClass: inetOrgPerson\n"
                 "uid: ivan\ncn: Ivan Petrov\nsn: Petrov\ngivenName: Ivan\n"
                 "displayName: Ivan Petrov\nmail: ivan@example.org\n")
    note("bob renamed robert.dupont, dave locked, frank deleted, ivan added (new hire)")

    step("adc imp: the next synchronization")
    out = run_adc(cfg_path, "imp")
    plan = sorted(plan_of(out))
    for line in plan:
        note(line)
    check(plan == sorted(["disable frank@example.org not in the directory",
                          "update dave@example.org changes active=false",
                          "update robert.dupont@example.org changes userName, displayName, email",
                          "create ivan@example.org"]), f"unexpected plan {plan}")
    note(summary_of(out))
    cloud.expect(active=["alice@example.org", "carol@example.org", "erin@example.org",
                         "grace@example.org", "heidi@example.org", "ivan@example.org",
                         "robert.dupont@example.org"],
                 inactive=["dave@example.org", "frank@example.org"], absent=["bob@example.org"])
    note("the rename updated the same cloud user; the locked and the deleted are disabled")


def start_agent(cfg_path, work):
    """adc run in the background, its output in work/adc-run.log."""
    env = dict(os.environ)
    env.pop("NOTIFY_SOCKET", None)
    env.pop("ADC_CFG", None)
    log = open(os.path.join(work, "adc-run.log"), "w")
    proc = subprocess.Popen([ADC, "-v", "-C", cfg_path, "run"], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    log.close()
    return proc


def agent_log(work):
    with open(os.path.join(work, "adc-run.log"), errors="replace") as f:
        return f.read()


def wait_until(what, predicate, timeout, agent=None, work=None):
    """Polls predicate() every 20 ms; returns (its value, seconds taken)."""
    t0 = time.monotonic()
    while True:
        value = predicate()
        if value:
            return value, time.monotonic() - t0
        if agent is not None and agent.poll() is not None:
            raise DemoFailed(f"adc run exited with status {agent.returncode} while waiting for "
                             f"{what}:\n{agent_log(work)[-2000:]}")
        if time.monotonic() - t0 > timeout:
            raise DemoFailed(f"{what}: not within {timeout:.0f} s")
        time.sleep(0.02)


def part_live(srv, ldap, cloud, cfg_path, work):
    """adc run: the startup full sync, then live changes."""
    base = "/api/v1/sync-configs/" + cloud.app_id

    def agent_runs():
        r = srv.admin("GET", base + "/runs", timeout=10)
        check(r.status == 200, f"GET {base}/runs answered {r.status}")
        return [x for x in r.body["runs"] if x["trigger"] != "imp"]

    step("adc run: the agent connects to adc-server and watches the directory")
    agent = start_agent(cfg_path, work)
    try:
        note(f"adc -C adc.cfg run  (pid {agent.pid}, no position in state_dir yet: "
             "a full sync first)")
        runs, took = wait_until("the startup full sync", lambda: [
            x for x in agent_runs() if x["status"] in ("succeeded", "failed")], 60, agent, work)
        run = runs[-1]
        s = run.get("stats") or {}
        counts = ", ".join(f"{k} {s[k]}" for k in ("created", "updated", "disabled", "deleted",
                                                    "unchanged", "failed") if k in s)
        note(f"its run record (GET /api/v1/runs/{run['run_id'][:8]}...), {took:.1f} s after "
             f"the start: trigger {run['trigger']}, {run['status']}")
        note(counts + " (adc imp had done the work)")
        check(run["trigger"] == "startup" and run["status"] == "succeeded",
              f"the first run of adc run is {run}")
        check(s.get("created") == 0 and s.get("updated") == 0 and s.get("failed") == 0,
              f"the startup sync should find the cloud in step (adc imp did it): {s}")
        live, _ = wait_until("the watcher streaming", lambda: (
            srv.admin("GET", base, timeout=10).body.get("live") or {}).get("state") ==
            "streaming" and srv.admin("GET", base, timeout=10).body["live"], 30, agent, work)
        check(live["watch"] == "syncrepl", f"the watcher is {live['watch']}, not syncrepl")
        note(f"live changes: {live['watch']} (RFC 4533, slapd's syncprov), {live['state']}; "
             f"full syncs every {srv.admin('GET', base).body['sync_interval_minutes']} minutes")

        step("The directory changes; the cloud follows by itself (no \"Sync now\", no adc imp)")
        changes_before = live.get("changes_applied", 0)
        live_changes(ldap, cloud, agent, work)

        live, _ = wait_until("the live status to count the changes", lambda: (
            srv.admin("GET", base, timeout=10).body.get("live") or {}).get(
            "changes_applied", 0) >= changes_before + 5 and
            srv.admin("GET", base, timeout=10).body["live"], 10, agent, work)
        triggers = [x["trigger"] for x in agent_runs()]
        check(triggers == ["startup"], f"runs besides the startup sync: {triggers}")
        note(f"the sync configuration's live status: {live['watch']}, {live['state']}, "
             f"{live['changes_applied']} changes applied")
        note("and still one run of the agent, the startup sync: live changes need no run")

        step("The cloud now")
        cloud.table()
        cloud.expect(active=["alice@example.org", "carol.nguyen-smith@example.org",
                             "dave@example.org", "heidi@example.org", "ivan@example.org",
                             "judy@example.org", "robert.dupont@example.org"],
                     inactive=["erin@example.org", "frank@example.org", "grace@example.org"],
                     absent=["carol@example.org"])
    finally:
        if agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(30)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()
        detail(f"--- the log of adc run\n{agent_log(work).rstrip()}")
    check(agent.returncode == 0, f"adc run stopped with status {agent.returncode}")
    check("live changes: syncrepl" in agent_log(work), "adc run did not say it uses syncrepl")


def live_changes(ldap, cloud, agent, work):
    """Each change made in the directory, then timed until the SCIM API shows it."""
    ids = {n: u["id"] for n, u in cloud.users().items()}

    def timed(what, change, arrived, result):
        # Timed from the start of the LDAP command: the change may be in the cloud before the
        # command has even exited.
        t0 = time.monotonic()
        change()
        wait_until(what, lambda: arrived(cloud.users()), LIVE_DEADLINE_S, agent, work)
        note(f"{what:<42} -> {time.monotonic() - t0:.2f} s: {result}")

    timed("ldapadd    judy (new hire)",
          lambda: ldap.ldapadd(f"dn: {user_dn('judy')}\nobjectClass: inetOrgPerson\nuid: judy\n"
                               "cn: Judy Kowalski\nsn: Kowalski\ngivenName: Judy\n"
                               "displayName: Judy Kowalski\nmail: judy@example.org\n"),
          lambda u: u.get("judy@example.org", {}).get("active") is True,
          "judy@example.org created")
    timed("ldapmodify carol's mail (renamed)",
          lambda: ldap.ldapmodify(f"dn: {user_dn('carol')}\nchangetype: modify\n"
                                  "replace: mail\nmail: carol.nguyen-smith@example.org\n-\n"
                                  "replace: displayName\ndisplayName: Carol Nguyen-Smith\n"),
          lambda u: "carol@example.org" not in u and u.get(
              "carol.nguyen-smith@example.org", {}).get("id") == ids["carol@example.org"],
          "carol.nguyen-smith@example.org, the same cloud user")
    timed("ldapmodify erin: account locked (ppolicy)",
          lambda: ldap.lock(user_dn("erin")),
          lambda u: u["erin@example.org"].get("active") is False,
          "erin@example.org disabled")
    timed("ldapmodify dave: account unlocked",
          lambda: ldap.unlock(user_dn("dave")),
          lambda u: u["dave@example.org"].get("active") is True,
          "dave@example.org active again")
    timed("ldapdelete grace (left the company)",
          lambda: ldap.ldapdelete(user_dn("grace")),
          lambda u: u["grace@example.org"].get("active") is False,
          "grace@example.org disabled (delete-disables)")


def main(argv):
    global VERBOSE
    VERBOSE = "--verbose" in argv or "-v" in argv
    t0 = time.monotonic()
    people = os.path.join(ROOT, "dist", "demo", "people.ldif")
    try:
        with Slapd(ldif=people, syncprov=True) as ldap, AdcServer(engine="sqlite") as srv:
            step("A demo directory and a cloud, on 127.0.0.1 in temporary directories")
            note(f"slapd: 8 people (dist/demo/people.ldif), syncprov overlay, {ldap.url} "
                 f"({ldap.dir})")
            cfg = srv.create_sync_config("Demo directory")
            srv.admin("POST", "/scim/v2/Users", {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "cloud.admin@example.org", "displayName": "Cloud Admin"})
            note(f"adc-server: fresh SQLite database, {srv.url} ({srv.dir})")
            note(f"sync configuration \"Demo directory\": Application ID {cfg['app_id'][:8]}..."
                 " and its Secret Token, in adc.cfg")
            cfg_path = write_configs(srv, ldap, cfg, srv.dir)
            cloud = Cloud(srv, cfg["app_id"])
            part_imp(ldap, cloud, cfg_path)
            part_live(srv, ldap, cloud, cfg_path, srv.dir)
            step("Stopping adc run, slapd and adc-server; removing their temporary directories")
    except DemoFailed as e:
        print(f"\ndemo: FAILED: {e}", file=sys.stderr, flush=True)
        return 1
    print(f"\n{BOLD}Demo finished in {time.monotonic() - t0:.0f} s: every step did what it "
          f"says.{RESET} Next: README.md shows how to point adc at your own directory.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
