#!/usr/bin/env python3
"""The demo of scripts/demo.sh: a throw-away directory (slapd with dist/demo/people.ldif) synced
into a throw-away adc-server, as a dry run, then for real, then again after the directory
changed. Everything runs on 127.0.0.1 in temporary directories and is removed at the end.

Uses the test harness (tests/integration/harness) to start slapd and adc-server; needs the
programs built (ADC_BIN / ADC_SERVER_BIN, default build/...)."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("ADC_BIN", os.path.join(ROOT, "build", "src", "adc", "adc"))
os.environ.setdefault("ADC_SERVER_BIN", os.path.join(ROOT, "build", "src", "server", "adc-server"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from harness.programs import ADC  # noqa: E402
from harness.server import AdcServer  # noqa: E402
from harness.slapd import Slapd  # noqa: E402

BOLD = "\033[1m" if sys.stdout.isatty() else ""
DIM = "\033[2m" if sys.stdout.isatty() else ""
RESET = "\033[0m" if sys.stdout.isatty() else ""
PROVIDER = "urn:adconnect:scim:schemas:extension:sync:2.0:User"


def step(text):
    print(f"\n{BOLD}==> {text}{RESET}", flush=True)


def note(text):
    print(f"{DIM}    {text}{RESET}", flush=True)


def show_file(path):
    with open(path) as f:
        for line in f:
            print("    " + line.rstrip("\n"))


def run_adc(cfg, *args):
    print(f"{BOLD}$ adc -C {os.path.basename(cfg)} {' '.join(args)}{RESET}", flush=True)
    r = subprocess.run([ADC, "-C", cfg, *args], text=True, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT)
    print(r.stdout.rstrip("\n"))
    print(f"{DIM}(exit status {r.returncode}){RESET}", flush=True)
    if r.returncode not in (0, 5):
        raise SystemExit(f"demo: adc {' '.join(args)} failed")
    return r


def show_cloud(srv, app_id):
    r = srv.admin("GET", "/scim/v2/Users?count=100")
    users = sorted(r.body.get("Resources", []), key=lambda u: u["userName"].lower())
    print(f"    {'userName':<27} {'displayName':<18} {'active':<7} owner")
    for u in users:
        owner = u.get(PROVIDER, {}).get("provider", "?")
        owner = "this sync" if owner == app_id else owner
        print(f"    {u['userName']:<27} {u.get('displayName', ''):<18} "
              f"{str(u.get('active', True)).lower():<7} {owner}")
    print(f"    ({len(users)} users in the cloud)")


def main():
    people = os.path.join(ROOT, "dist", "demo", "people.ldif")
    step("Starting a demo directory: OpenLDAP slapd with 8 people (dist/demo/people.ldif)")
    with Slapd(ldif=people) as ldap, AdcServer() as srv:
        note(f"slapd listens on {ldap.url}, base {ldap.base_dn}")
        step("Starting adc-server on a fresh SQLite database, and creating a sync configuration")
        note(f"adc-server listens on {srv.url}")
        cfg = srv.create_sync_config("Demo directory")
        note(f"POST /api/v1/sync-configs -> Application ID {cfg['app_id']} and its Secret Token")
        # A user made by hand in the cloud: a sync never touches users it does not own.
        srv.admin("POST", "/scim/v2/Users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "cloud.admin@example.org", "displayName": "Cloud Admin"})
        note("and a cloud user made by hand: cloud.admin@example.org (provider 'local')")

        work = srv.dir
        cfg_path = os.path.join(work, "adc.cfg")
        yaml_path = os.path.join(work, "adc.yaml")
        with open(cfg_path, "w") as f:
            f.write(f"# the cloud connection\nserver = {srv.url}\napp_id = {cfg['app_id']}\n"
                    f"secret = {cfg['secret']}\nyaml = adc.yaml\n")
        os.chmod(cfg_path, 0o600)
        ldap.adc_yaml(yaml_path)
        with open(yaml_path) as f:
            text = f.read()
        text = text.replace("settings:\n  dry-run: true\n",
                            "settings:\n  delete-disables: true\n"
                            "  no-update-provider-mismatch: true\n", 1)
        with open(yaml_path, "w") as f:
            f.write(text)
        step("The configuration of adc")
        print("    adc.cfg (the secret shown here is the demo's, made a moment ago):")
        show_file(cfg_path)
        print("    adc.yaml:")
        show_file(yaml_path)

        step("1. A preview: what would the sync do?")
        run_adc(cfg_path, "imp", "--dry-run")
        step("The cloud is still empty of directory users")
        show_cloud(srv, cfg["app_id"])

        step("2. The first real synchronization")
        run_adc(cfg_path, "imp")
        show_cloud(srv, cfg["app_id"])

        step("3. The directory changes")
        ldap.ldapmodify("dn: uid=bob,ou=people,dc=example,dc=org\nchangetype: modify\n"
                        "replace: mail\nmail: robert.dupont@example.org\n-\n"
                        "replace: displayName\ndisplayName: Robert Dupont\n")
        note("renamed:  bob@example.org -> robert.dupont@example.org")
        ldap.lock("uid=dave,ou=people,dc=example,dc=org")
        note("disabled: dave@example.org (account locked in the directory)")
        ldap.ldapdelete("uid=frank,ou=people,dc=example,dc=org")
        note("deleted:  frank@example.org (left the company)")
        ldap.ldapadd("dn: uid=ivan,ou=people,dc=example,dc=org\nobjectClass: inetOrgPerson\n"
                     "uid: ivan\ncn: Ivan Petrov\nsn: Petrov\ngivenName: Ivan\n"
                     "displayName: Ivan Petrov\nmail: ivan@example.org\n")
        note("added:    ivan@example.org (new hire)")

        step("4. The next synchronization: an update for the rename (same cloud user), the "
             "locked account disabled, the leaver disabled (delete-disables), the new hire "
             "created")
        run_adc(cfg_path, "imp")
        show_cloud(srv, cfg["app_id"])

        step("5. Once more: nothing left to do")
        run_adc(cfg_path, "imp")

        step("Stopping slapd and adc-server; removing their temporary directories")
    print(f"\n{BOLD}Demo finished.{RESET} Next: README.md shows how to point adc at your own "
          "directory and adc-server.")


if __name__ == "__main__":
    main()
