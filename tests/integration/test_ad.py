"""adc against a real Active Directory: a Samba AD domain controller over LDAPS (issue 3).

One domain is provisioned for the whole module (a few seconds) and seeded with the users of
tests/data/ad/people.ldif plus STAFF_COUNT generated ones, more than AD's 1000-entry page, so
reading them all needs the paged-results control. What adc reports is compared with what
ldapsearch reads from the same server, with objectGUID converted here, independently of adc:
AD's canonical GUID string reads the first three fields little-endian ([MS-DTYP] 2.3.4), which
is uuid.UUID(bytes_le=...).
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

from harness.programs import ADC, DATA
from harness.agent import Agent, cfg_text
from harness.samba import SambaDC, ldif_value
from harness.server import SCIM_PROVIDER, AdcServer

STAFF_COUNT = 1200
USER_FILTER = "(&(objectClass=user)(objectCategory=person))"
SVC_DN = "CN=svc-adc,CN=Users,DC=adc,DC=test"
SVC_PASSWORD = "Sync-Reader-Passw0rd"
PASSWORDS = {  # sAMAccountName -> password set by the test
    "svc-adc": SVC_PASSWORD,
    "ada.lovelace": "Analytical-Engine-1843",
    "dora.disabled": "Was-Valid-Until-2025",
    "jürgen.weiß": "Grüße-aus-Köln-7",
}
# The accounts every new domain has; Guest and krbtgt are disabled.
BUILTIN = {"Administrator", "Guest", "krbtgt"}
SPECIAL = {"svc-adc", "ada.lovelace", "dora.disabled", "jürgen.weiß", "tanaka.taro",
           "sean.obrien", "nora.nomail", "dup.one", "dup.two"}
FIELDS = ("userName", "externalId", "displayName", "givenName", "familyName", "email",
          "active", "dn")

DC = None
TMP = None


def staff_ldif(n):
    """n regular users in OU=Staff, enabled, without a password (AD allows that for 512)."""
    out = []
    for i in range(n):
        name = f"staff{i:04d}"
        out.append(f"dn: CN=Staff Member {i:04d},OU=Staff,DC=adc,DC=test\n"
                   f"objectClass: user\nsAMAccountName: {name}\n"
                   f"userPrincipalName: {name}@adc.test\ngivenName: Staff\n"
                   f"sn: Member {i:04d}\ndisplayName: Staff Member {i:04d}\n"
                   f"mail: {name}@adc.test\nuserAccountControl: 512\n\n")
    return "".join(out)


def seed(dc):
    with open(os.path.join(DATA, "ad", "people.ldif"), encoding="utf-8") as f:
        dc.ldapadd(f.read())
    dc.ldapadd(staff_ldif(STAFF_COUNT))
    for name, password in PASSWORDS.items():
        entries, _ = dc.ldapsearch(f"(sAMAccountName={name})", ["dn"])
        dc.set_password(entries[0]["dn"], password)
    # The way an administrator does it; sets userAccountControl to 514.
    dc.samba_tool("user", "disable", "dora.disabled")


def setUpModule():
    global DC, TMP
    DC = SambaDC()
    unittest.addModuleCleanup(DC.stop)
    DC.start()
    # Inside Samba's directory: removed with it, also when meson stops the test (SIGTERM).
    TMP = tempfile.mkdtemp(prefix="adc-test-ad-", dir=DC.dir)
    t0 = time.monotonic()
    seed(DC)
    seeding = time.monotonic() - t0
    print(f"\nsamba: waited {DC.timings['lock_wait']:.1f}s for another run, "
          f"provision {DC.timings['provision']:.1f}s, start {DC.timings['start']:.1f}s, "
          f"seed {STAFF_COUNT + len(SPECIAL)} users {seeding:.1f}s", file=sys.stderr)


# --- what the directory holds, read with ldapsearch -------------------------------------------

_DIRECTORY = {}


def directory(base=None, scope="sub"):
    """{dn: entry} of every user under base, as ldapsearch (paged) reads them as svc-adc."""
    key = (base, scope)
    if key not in _DIRECTORY:
        entries, refs = DC.ldapsearch(
            USER_FILTER, ["objectGUID", "sAMAccountName", "userPrincipalName", "cn",
                          "displayName", "givenName", "sn", "mail", "userAccountControl"],
            base=base, scope=scope, page_size=1000, bind=(SVC_DN, SVC_PASSWORD))
        _DIRECTORY[key] = ({e["dn"]: e for e in entries}, refs)
    return _DIRECTORY[key]


def first(entry, attr):
    values = entry.get(attr.lower())
    return values[0].decode("utf-8") if values else None


def guid_string(entry):
    return str(uuid.UUID(bytes_le=entry["objectguid"][0]))


def expected_user(entry, name_attr="sAMAccountName"):
    uac = int(first(entry, "userAccountControl"))
    return {
        "userName": first(entry, name_attr),
        "externalId": guid_string(entry),
        "displayName": first(entry, "displayName") or first(entry, "cn"),
        "givenName": first(entry, "givenName"),
        "familyName": first(entry, "sn"),
        "email": first(entry, "mail"),
        "active": not uac & 0x2,  # ADS_UF_ACCOUNTDISABLE
        "dn": entry["dn"],
    }


def normalized(users):
    """adc's users keyed by userName, each with exactly FIELDS (absent = None)."""
    out = {}
    for u in users:
        out[u["userName"]] = {k: u.get(k) for k in FIELDS}
    return out


# --- running adc -------------------------------------------------------------------------------

def yaml_scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return json.dumps(v, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def yaml_lines(d, indent=0):
    out = []
    for k, v in d.items():
        if v is None:
            continue
        if isinstance(v, dict):
            out.append(" " * indent + f"{k}:")
            out += yaml_lines(v, indent + 2)
        else:
            out.append(" " * indent + f"{k}: {yaml_scalar(v)}")
    return out


def merge(base, over):
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out.get(k) or {}, v) if isinstance(v, dict) else v
    return out


def config(name_attr="sAMAccountName", settings=None, **ldap):
    """Writes an adc.yaml for this domain (mode 0600: it holds a password); keyword arguments
    override backend.ldap keys (nested dicts for sync/authentication, None removes a key);
    settings is the `settings:` block ({"dry-run": False, ...})."""
    base = {
        "addr": DC.uri,
        "bind_dn": SVC_DN,
        "bind_password": SVC_PASSWORD,
        "base_dn": DC.base_dn,
        "scope": "sub",
        "ca_file": DC.ca_file,
        "sync": {"page_size": 1000, "filter": USER_FILTER},
        "authentication": {
            "username_attribute": name_attr,
            "username_filter_template": f"(&{USER_FILTER[2:-1]}({name_attr}=%s))",
            "timeout": 5,
        },
    }
    doc = {"settings": settings, "backend": {"ldap": merge(base, ldap)}}
    fd, path = tempfile.mkstemp(prefix="adc-", suffix=".yaml", dir=TMP)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(yaml_lines(doc)) + "\n")
    return path


def run_adc(cfg, *args, stdin=None):
    """adc -c CFG ARGS... (ARGS may start with more global options, such as -C adc.cfg)."""
    # No LDAPTLS_* from the caller's environment: what adc trusts must come from adc.yaml.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LDAP") and k != "ADC_CFG"}
    env["LDAPRC"] = os.devnull
    return subprocess.run([ADC, "-c", cfg, *args], input=stdin, capture_output=True, text=True,
                          timeout=300, env=env)


def users_json(testcase, cfg):
    r = run_adc(cfg, "users", "--json")
    testcase.assertEqual(r.returncode, 0, f"adc users failed: {r.stderr}")
    try:
        return json.loads(r.stdout)
    except ValueError as e:
        testcase.fail(f"adc users --json printed no JSON ({e}): {r.stdout[:500]!r}")


def assert_no_secret(testcase, r, *secrets):
    for s in secrets:
        testcase.assertNotIn(s, r.stdout)
        testcase.assertNotIn(s, r.stderr)


# --- the tests ---------------------------------------------------------------------------------

class Cloud(unittest.TestCase):
    """The whole way: every AD user into a real adc-server with adc imp (more than one page,
    identities, disabled accounts), then sign-in through adc run checking passwords against AD."""

    @classmethod
    def setUpClass(cls):
        cls.srv = AdcServer(args=["--login-timeout", "10"]).start()
        cls.addClassCleanup(cls.srv.cleanup)
        cls.sync = cls.srv.create_sync_config("ad")
        cls.yaml = config(settings={"dry-run": False})
        cls.cfg = os.path.join(TMP, "adc.cfg")
        with open(cls.cfg, "w") as f:
            f.write(cfg_text(cls.srv.url, cls.sync["app_id"], cls.sync["secret"], cls.yaml))
        os.chmod(cls.cfg, 0o600)

    def imp(self):
        r = run_adc(self.yaml, "-C", self.cfg, "imp", "--json")
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        return json.loads(r.stdout)

    def cloud(self):
        out, start = {}, 1
        while True:
            r = self.srv.scim("admin", "GET", f"/Users?startIndex={start}&count=1000")
            self.assertEqual(r.status, 200, r)
            res = r.body.get("Resources", [])
            for u in res:
                self.assertNotIn(u["userName"], out)
                out[u["userName"]] = u
            if not res or start + len(res) > r.body["totalResults"]:
                return out
            start += len(res)

    def test_import_then_sign_in(self):
        entries, _ = directory()
        first_run = self.imp()
        self.assertEqual(first_run["stats"]["created"], len(entries), first_run["stats"])
        self.assertEqual(first_run["stats"]["failed"], 0)
        cloud = self.cloud()
        self.assertEqual(len(cloud), len(entries))
        for e in entries.values():
            want = expected_user(e)
            got = cloud[want["userName"]]
            self.assertEqual(got["externalId"], want["externalId"], want["userName"])
            self.assertEqual(got["active"], want["active"], want["userName"])
            self.assertEqual(got[SCIM_PROVIDER]["provider"], self.sync["app_id"])
        self.assertIs(cloud["dora.disabled"]["active"], False)
        self.assertEqual(cloud["jürgen.weiß"]["displayName"], "Jürgen Weiß")

        second_run = self.imp()
        self.assertEqual(second_run["stats"]["unchanged"], len(entries), second_run["stats"])
        self.assertEqual(second_run["stats"]["created"] + second_run["stats"]["updated"], 0)

        with open(self.yaml, encoding="utf-8") as f:
            agent = Agent(cfg_text(self.srv.url, self.sync["app_id"], self.sync["secret"]),
                          f.read())
        self.addCleanup(agent.close)
        agent.start()
        deadline = time.monotonic() + 30
        while not self.srv.admin("GET", "/api/v1/sync-configs/" + self.sync["app_id"]).body \
                .get("agents"):
            self.assertLess(time.monotonic(), deadline, agent.log())
            time.sleep(0.1)

        def login(name, password):
            return self.srv.request("POST", "/api/v1/login",
                                    {"username": name, "password": password}, timeout=30).status

        self.assertEqual(login("ada.lovelace", PASSWORDS["ada.lovelace"]), 200, agent.log())
        self.assertEqual(login("jürgen.weiß", PASSWORDS["jürgen.weiß"]), 200, agent.log())
        self.assertEqual(login("ada.lovelace", "Analytical-Engine-1842"), 401)
        self.assertEqual(login("ada.lovelace", ""), 401)
        self.assertEqual(login("dora.disabled", PASSWORDS["dora.disabled"]), 401)
        self.assertNotIn(PASSWORDS["ada.lovelace"], agent.log())


class Groups(unittest.TestCase):
    """Groups from AD (docs/product.md section 10): a group of more members than AD returns at
    once (MaxValRange 1500: read by range), Domain Users whose members are the users' primary
    group (primaryGroupID, never listed in its member attribute), a user whose primary group is
    another group, and members that are not synced users (contacts) reported, not invented."""
    CONTACTS = 400

    @classmethod
    def setUpClass(cls):
        DC.ldapadd(f"dn: OU=Contacts,{DC.base_dn}\nobjectClass: organizationalUnit\n\n" + "".join(
            f"dn: CN=Contact {i:04d},OU=Contacts,{DC.base_dn}\nobjectClass: contact\n"
            f"sn: Contact {i:04d}\n\n" for i in range(cls.CONTACTS)))
        members = [f"CN=Staff Member {i:04d},OU=Staff,{DC.base_dn}" for i in range(STAFF_COUNT)]
        members += [f"CN=Contact {i:04d},OU=Contacts,{DC.base_dn}" for i in range(cls.CONTACTS)]
        DC.ldapadd(f"dn: CN=Big Staff,OU=Staff,{DC.base_dn}\nobjectClass: group\n"
                   "sAMAccountName: bigstaff\n" + "".join(f"member: {m}\n" for m in members))
        # staff0000's primary group becomes Big Staff (AD then lists it there no more).
        entries, _ = DC.ldapsearch("(sAMAccountName=bigstaff)", ["objectSid"])
        rid = int.from_bytes(entries[0]["objectsid"][0][-4:], "little")
        DC.ldapmodify(f"dn: CN=Staff Member 0000,OU=Staff,{DC.base_dn}\nchangetype: modify\n"
                      f"replace: primaryGroupID\nprimaryGroupID: {rid}\n")
        cls.srv = AdcServer().start()
        cls.addClassCleanup(cls.srv.cleanup)
        cls.sync = cls.srv.create_sync_config("ad-groups")
        cls.yaml = config(settings={"dry-run": False}, groups={
            "filter": "(&(objectClass=group)(|(cn=Domain Users)(cn=Big Staff)))"})
        cls.cfg = os.path.join(TMP, "adc-groups.cfg")
        with open(cls.cfg, "w") as f:
            f.write(cfg_text(cls.srv.url, cls.sync["app_id"], cls.sync["secret"], cls.yaml))
        os.chmod(cls.cfg, 0o600)

    def test_ranges_primary_groups_and_members_not_synced(self):
        r = run_adc(self.yaml, "-C", self.cfg, "imp", "--json")
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        doc = json.loads(r.stdout)
        self.assertEqual(doc["groups"]["created"], 2, doc["groups"])
        self.assertEqual(doc["groups"]["members_not_synced"], self.CONTACTS, doc["groups"])
        users = {}
        start = 1
        while True:
            page = self.srv.scim("admin", "GET", f"/Users?startIndex={start}&count=1000").body
            users.update({u["id"]: u["userName"] for u in page["Resources"]})
            if start + len(page["Resources"]) > page["totalResults"]:
                break
            start += len(page["Resources"])
        groups = {g["displayName"]: g for g in
                  self.srv.scim("admin", "GET", "/Groups?count=10").body["Resources"]}
        big = {users[m["value"]] for m in groups["Big Staff"]["members"]}
        self.assertEqual(big, {f"staff{i:04d}" for i in range(STAFF_COUNT)})  # 0000 as primary
        domain_users = {users[m["value"]] for m in groups["Domain Users"].get("members", [])}
        self.assertIn("ada.lovelace", domain_users)
        self.assertIn("staff0001", domain_users)
        self.assertNotIn("Guest", domain_users)  # primary group Domain Guests
        self.assertGreater(len(domain_users), STAFF_COUNT)
        again = json.loads(run_adc(self.yaml, "-C", self.cfg, "imp", "--json").stdout)
        self.assertEqual(again["groups"]["unchanged"], 2, again["groups"])


class CreateAsDisabled(unittest.TestCase):
    """adc imp with create-as-disabled and an account disabled in AD (userAccountControl 0x2):
    every new cloud user starts disabled, the disabled account with its own reason; a user the
    cloud then activates stays active on the next sync, the AD-disabled one stays disabled."""

    def test_create_as_disabled_with_an_ad_disabled_account(self):
        srv = AdcServer().start()
        self.addCleanup(srv.cleanup)
        sync = srv.create_sync_config("ad-cad", settings={"create-as-disabled": True})
        yaml = config(settings={"dry-run": False})
        cfg = os.path.join(TMP, "adc-cad.cfg")
        with open(cfg, "w") as f:
            f.write(cfg_text(srv.url, sync["app_id"], sync["secret"], yaml))
        os.chmod(cfg, 0o600)
        r = run_adc(yaml, "-C", cfg, "imp", "--json")
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        doc = json.loads(r.stdout)
        reasons = {c["userName"]: c["reason"] for c in doc["changes"] if c["op"] == "create"}
        self.assertEqual(reasons["dora.disabled"], "disabled in the directory")
        self.assertEqual(reasons["ada.lovelace"], "created disabled (create-as-disabled)")
        users = srv.scim("admin", "GET", "/Users?count=5000").body["Resources"]
        by_name = {u["userName"]: u for u in users}
        self.assertEqual({u["active"] for u in users}, {False})
        r = srv.scim("admin", "PATCH", "/Users/" + by_name["ada.lovelace"]["id"], {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": True}]})
        self.assertEqual(r.status, 200, r)
        r = run_adc(yaml, "-C", cfg, "imp", "--json")
        self.assertEqual(r.returncode, 0, r.stderr[-2000:])
        self.assertEqual(json.loads(r.stdout)["stats"]["updated"], 0)
        users = {u["userName"]: u for u in
                 srv.scim("admin", "GET", "/Users?count=5000").body["Resources"]}
        self.assertIs(users["ada.lovelace"]["active"], True)
        self.assertIs(users["dora.disabled"]["active"], False)


class Directory(unittest.TestCase):
    """The conditions the other tests rely on, read with ldapsearch."""

    def test_more_users_than_one_page_and_search_references(self):
        entries, refs = directory()
        self.assertGreater(len(entries), 1000)
        names = {first(e, "sAMAccountName") for e in entries.values()}
        self.assertEqual(names, BUILTIN | SPECIAL | {f"staff{i:04d}" for i in range(STAFF_COUNT)})
        # A subtree search from the domain root returns continuation references to the
        # application partitions, as on Windows (RFC 4511 4.5.3).
        self.assertTrue(any("DomainDnsZones" in r for r in refs), refs)
        self.assertTrue(any("ForestDnsZones" in r for r in refs), refs)

    def test_disabled_account(self):
        entries, _ = directory()
        dora = [e for e in entries.values() if first(e, "sAMAccountName") == "dora.disabled"]
        self.assertEqual(int(first(dora[0], "userAccountControl")), 514)


class Users(unittest.TestCase):
    def check_users(self, doc, base=None, scope="sub", name_attr="sAMAccountName"):
        """doc is exactly the directory's users under base, mapped; nothing skipped."""
        entries, _ = directory(base, scope)
        expected = {first(e, name_attr): expected_user(e, name_attr) for e in entries.values()}
        got = normalized(doc["users"])
        self.assertEqual(len(doc["users"]), len(got), "a userName appears twice")
        self.assertEqual(set(got), set(expected))
        for name, want in expected.items():
            self.assertEqual(got[name], want, name)
        self.assertEqual(doc.get("skipped"), [])
        self.assertEqual(doc["id_attribute"], "objectGUID")

    def test_all_users_with_full_pages(self):
        doc = users_json(self, config())
        self.check_users(doc)
        self.assertEqual(len(doc["users"]), len(BUILTIN) + len(SPECIAL) + STAFF_COUNT)

    def test_all_users_with_small_pages(self):
        self.check_users(users_json(self, config(sync={"page_size": 97})))

    def test_the_values_users_see(self):
        got = normalized(users_json(self, config())["users"])
        ada = got["ada.lovelace"]
        self.assertEqual((ada["displayName"], ada["givenName"], ada["familyName"], ada["email"],
                          ada["active"]),
                         ("Ada Lovelace", "Ada", "Lovelace", "ada.lovelace@adc.test", True))
        self.assertRegex(ada["externalId"], r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-"
                                            r"[0-9a-f]{4}-[0-9a-f]{12}$")
        j = got["jürgen.weiß"]
        self.assertEqual((j["displayName"], j["givenName"], j["familyName"]),
                         ("Jürgen Weiß", "Jürgen", "Weiß"))
        self.assertEqual(j["dn"], "CN=Jürgen Weiß,OU=Berlin,OU=People,DC=adc,DC=test")
        self.assertEqual(got["tanaka.taro"]["displayName"], "田中 太郎")
        self.assertEqual(got["sean.obrien"]["dn"], "CN=O'Brien\\, Seán,OU=People,DC=adc,DC=test")
        nora = got["nora.nomail"]
        self.assertIsNone(nora["email"])
        self.assertEqual(nora["displayName"], "Nora Nomail")  # cn, as there is no displayName
        self.assertEqual(got["dup.one"]["email"], "Shared@adc.test")
        self.assertEqual(got["dup.two"]["email"], "shared@adc.test")
        for name in ("dora.disabled", "Guest", "krbtgt"):
            self.assertIs(got[name]["active"], False, name)
        for name in ("Administrator", "svc-adc", "staff0000", "staff1199"):
            self.assertIs(got[name]["active"], True, name)

    def test_external_id_is_the_canonical_object_guid(self):
        entries, _ = directory()
        by_dn = {u["dn"]: u for u in users_json(self, config())["users"]}
        mixed = 0
        for dn, e in entries.items():
            raw = e["objectguid"][0]
            self.assertEqual(by_dn[dn]["externalId"], str(uuid.UUID(bytes_le=raw)), dn)
            mixed += str(uuid.UUID(bytes_le=raw)) != str(uuid.UUID(bytes=raw))
        self.assertGreater(mixed, 0)  # the byte order matters for these GUIDs

    def test_explicit_id_attribute(self):
        doc = users_json(self, config(sync={"id_attribute": "objectGUID"}))
        self.check_users(doc)

    def test_one_level_scope(self):
        base = "OU=People,DC=adc,DC=test"
        doc = users_json(self, config(base_dn=base, scope="one"))
        self.check_users(doc, base=base, scope="one")
        names = {u["userName"] for u in doc["users"]}
        self.assertIn("ada.lovelace", names)
        self.assertNotIn("jürgen.weiß", names)  # one level further down, in OU=Berlin

    def test_user_principal_name_as_name(self):
        doc = users_json(self, config(name_attr="userPrincipalName"))
        entries, _ = directory()
        with_upn = {first(e, "userPrincipalName"): expected_user(e, "userPrincipalName")
                    for e in entries.values() if first(e, "userPrincipalName")}
        without = {dn.lower() for dn, e in entries.items() if not first(e, "userPrincipalName")}
        self.assertEqual(normalized(doc["users"]), with_upn)
        self.assertIn("ada.lovelace@adc.test", with_upn)
        # The built-in accounts have no userPrincipalName: no usable name, skipped (rule 8).
        self.assertEqual({s["dn"].lower() for s in doc["skipped"]}, without)
        self.assertTrue(without)
        for s in doc["skipped"]:
            self.assertTrue(s.get("reason"), s)

    def test_mail_as_name_skips_missing_and_duplicates(self):
        doc = users_json(self, config(name_attr="mail"))
        skipped = {s["dn"]: s for s in doc["skipped"]}
        for dn in ("CN=Dup One,OU=People,DC=adc,DC=test", "CN=Dup Two,OU=People,DC=adc,DC=test",
                   "CN=Nora Nomail,OU=People,DC=adc,DC=test"):
            self.assertIn(dn, skipped)
            self.assertTrue(skipped[dn].get("reason"), skipped[dn])
        names = {u["userName"] for u in doc["users"]}
        self.assertIn("ada.lovelace@adc.test", names)
        self.assertNotIn("shared@adc.test", {n.lower() for n in names})
        self.assertEqual(len(names) + len(skipped), len(directory()[0]))

    def test_table_output(self):
        r = run_adc(config(), "users")
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in ("ada.lovelace", "jürgen.weiß", "staff1199"):
            self.assertIn(name, r.stdout)


class Connection(unittest.TestCase):
    def test_certificate_not_trusted_without_ca_file(self):
        r = run_adc(config(ca_file=None), "users", "--json")
        self.assertEqual(r.returncode, 1, r.stdout[:300])
        self.assertRegex(r.stderr, r"(?i)certificate|tls")
        self.assertIn("127.0.0.1", r.stderr)
        self.assertEqual(r.stdout.strip(), "")

    def test_verification_can_be_turned_off(self):
        doc = users_json(self, config(ca_file=None, tls_verify=False))
        self.check_count(doc)

    def test_starttls_on_389(self):
        doc = users_json(self, config(addr=DC.ldap_uri, starttls=True))
        self.check_count(doc)

    def test_plain_simple_bind_refused(self):
        # Like AD with LDAP signing required, Samba refuses a simple bind without TLS.
        r = run_adc(config(addr=DC.ldap_uri), "users", "--json")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"(?i)strong|confidentiality|\(8\)|\(13\)")
        assert_no_secret(self, r, SVC_PASSWORD)

    def test_bind_as_user_principal_name(self):
        # AD also accepts the bind account's UPN (or DOMAIN\name) where a DN is expected.
        doc = users_json(self, config(bind_dn="svc-adc@adc.test"))
        self.check_count(doc)

    def test_wrong_bind_password(self):
        r = run_adc(config(bind_password="Not-The-Password-1"), "users", "--json")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"(?i)invalid credentials")
        self.assertIn("svc-adc", r.stderr)
        assert_no_secret(self, r, "Not-The-Password-1")

    def check_count(self, doc):
        self.assertEqual(len(doc["users"]), len(directory()[0]))


class Auth(unittest.TestCase):
    def auth(self, name, password, cfg=None):
        r = run_adc(cfg or config(), "auth", name, stdin=password + "\n")
        if password:
            assert_no_secret(self, r, password)
        return r

    def assert_accepted(self, r):
        self.assertEqual(r.returncode, 0, r.stderr)

    def assert_denied(self, r):
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertTrue(r.stderr.strip(), "a denial says why")

    def test_right_password(self):
        self.assert_accepted(self.auth("ada.lovelace", PASSWORDS["ada.lovelace"]))

    def test_wrong_password(self):
        self.assert_denied(self.auth("ada.lovelace", "Analytical-Engine-1842"))

    def test_empty_password(self):
        # An empty simple bind is an anonymous bind, which AD lets "succeed".
        self.assert_denied(self.auth("ada.lovelace", ""))

    def test_disabled_account(self):
        self.assert_denied(self.auth("dora.disabled", PASSWORDS["dora.disabled"]))

    def test_unknown_user(self):
        self.assert_denied(self.auth("nobody.here", PASSWORDS["ada.lovelace"]))

    def test_filter_injection(self):
        for name in ("*)(sAMAccountName=*", "*", "ada*", "ada.lovelace)(|(a=*"):
            with self.subTest(name=name):
                self.assert_denied(self.auth(name, PASSWORDS["ada.lovelace"]))

    def test_non_ascii_name_and_password(self):
        self.assert_accepted(self.auth("jürgen.weiß", PASSWORDS["jürgen.weiß"]))
        self.assert_denied(self.auth("jürgen.weiß", "Grusse-aus-Koln-7"))

    def test_user_principal_name(self):
        cfg = config(name_attr="userPrincipalName")
        self.assert_accepted(self.auth("ada.lovelace@adc.test", PASSWORDS["ada.lovelace"], cfg))
        self.assert_denied(self.auth("ada.lovelace@adc.test", "wrong-Passw0rd", cfg))
        self.assert_denied(self.auth("*@adc.test", PASSWORDS["ada.lovelace"], cfg))

    def test_staff_without_password_cannot_sign_in(self):
        # Accounts created without a password (PASSWD_NOTREQD is not set, but AD allowed it):
        # no password, empty or not, opens them.
        self.assert_denied(self.auth("staff0001", ""))
        self.assert_denied(self.auth("staff0001", "anything-1A"))


class PasswordPolicy(unittest.TestCase):
    """docs/product.md section 11: AD refuses these binds with a reason code in its diagnostic
    message (data 773: must change, 701: account expired); the password check says so in words.
    In an OU of their own, removed afterwards."""
    OU = "OU=Policy,DC=adc,DC=test"

    def setUp(self):
        DC.ldapadd(f"dn: {self.OU}\nobjectClass: organizationalUnit\n\n"
                   f"dn: CN=Mustchange Person,{self.OU}\nobjectClass: user\n"
                   "sAMAccountName: must.change\nuserAccountControl: 512\n\n"
                   f"dn: CN=Expired Person,{self.OU}\nobjectClass: user\n"
                   "sAMAccountName: acct.expired\nuserAccountControl: 512\n")
        self.addCleanup(DC.ldapdelete, self.OU, recursive=True)
        DC.set_password(f"CN=Mustchange Person,{self.OU}", "Must-Change-Passw0rd")
        DC.set_password(f"CN=Expired Person,{self.OU}", "Expired-Acct-Passw0rd")
        self.cfg = config(base_dn=self.OU)

    def auth(self, name, password):
        r = run_adc(self.cfg, "auth", name, stdin=password + "\n")
        assert_no_secret(self, r, password)
        return r

    def test_right_password_before(self):
        r = self.auth("must.change", "Must-Change-Passw0rd")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_must_change_is_denied_with_data_773(self):
        # pwdLastSet 0: "User must change password at next logon".
        DC.ldapmodify(f"dn: CN=Mustchange Person,{self.OU}\nchangetype: modify\n"
                      "replace: pwdLastSet\npwdLastSet: 0\n-\n")
        r = self.auth("must.change", "Must-Change-Passw0rd")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("the password must be changed (Active Directory: data 773", r.stderr)

    def test_expired_account_is_denied_with_data_701(self):
        DC.samba_tool("user", "setexpiry", "acct.expired", "--days=0")
        r = self.auth("acct.expired", "Expired-Acct-Passw0rd")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("the account has expired (Active Directory: data 701", r.stderr)


class Changes(unittest.TestCase):
    """A user that is renamed, moved, disabled and enabled again in AD, in an OU of its own
    (removed afterwards, so the other tests' view of the directory is unchanged)."""
    OU = "OU=Changes,DC=adc,DC=test"

    def setUp(self):
        DC.ldapadd(f"dn: {self.OU}\nobjectClass: organizationalUnit\n\n"
                   f"dn: OU=Moved,{self.OU}\nobjectClass: organizationalUnit\n\n"
                   f"dn: CN=Chris Change,{self.OU}\nobjectClass: user\n"
                   "sAMAccountName: chris.change\ngivenName: Chris\nsn: Change\n"
                   "displayName: Chris Change\nmail: chris.change@adc.test\n"
                   "userAccountControl: 512\n")
        self.addCleanup(DC.ldapdelete, self.OU, recursive=True)
        DC.set_password(f"CN=Chris Change,{self.OU}", "Chris-Passw0rd-1")
        self.cfg = config(base_dn=self.OU)

    def only_user(self):
        users = users_json(self, self.cfg)["users"]
        self.assertEqual(len(users), 1, users)
        return users[0]

    def set_uac(self, dn, value):
        DC.ldapmodify(ldif_value("dn", dn) + "changetype: modify\nreplace: userAccountControl\n"
                      f"userAccountControl: {value}\n-\n")

    def test_rename_move_disable_enable(self):
        before = self.only_user()
        self.assertEqual((before["userName"], before["active"]), ("chris.change", True))

        # Renamed (new CN and sAMAccountName) and moved to another OU: same objectGUID.
        DC.ldapmodify(f"dn: CN=Chris Change,{self.OU}\nchangetype: modrdn\n"
                      "newrdn: CN=Christine Change\ndeleteoldrdn: 1\n"
                      f"newsuperior: OU=Moved,{self.OU}\n\n"
                      f"dn: CN=Christine Change,OU=Moved,{self.OU}\nchangetype: modify\n"
                      "replace: sAMAccountName\nsAMAccountName: christine.change\n-\n"
                      "replace: displayName\ndisplayName: Christine Change\n-\n")
        moved = self.only_user()
        self.assertEqual(moved["externalId"], before["externalId"])
        self.assertEqual((moved["userName"], moved["displayName"], moved["dn"]),
                         ("christine.change", "Christine Change",
                          f"CN=Christine Change,OU=Moved,{self.OU}"))

        dn = moved["dn"]
        self.set_uac(dn, 514)  # ACCOUNTDISABLE
        self.assertIs(self.only_user()["active"], False)
        r = run_adc(self.cfg, "auth", "christine.change", stdin="Chris-Passw0rd-1\n")
        self.assertEqual(r.returncode, 1, r.stderr)

        self.set_uac(dn, 512)
        again = self.only_user()
        self.assertIs(again["active"], True)
        self.assertEqual(again["externalId"], before["externalId"])
        r = run_adc(self.cfg, "auth", "christine.change", stdin="Chris-Passw0rd-1\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        # The old name no longer finds anyone.
        r = run_adc(self.cfg, "auth", "chris.change", stdin="Chris-Passw0rd-1\n")
        self.assertEqual(r.returncode, 1, r.stderr)


class Check(unittest.TestCase):
    def test_check_binds_and_finds_users(self):
        r = run_adc(config(), "check")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("configuration OK", r.stdout)
        self.assertIn(f"bound to {DC.uri} as '{SVC_DN}'", r.stdout)
        self.assertRegex(r.stdout, r"finds users under 'DC=adc,DC=test'")
        assert_no_secret(self, r, SVC_PASSWORD)

    def test_check_reports_a_filter_that_finds_nobody(self):
        r = run_adc(config(sync={"filter": "(&(objectClass=user)(sAMAccountName=nobody.here))"}),
                    "check")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("finds no entry", r.stderr)
        self.assertIn("nobody.here", r.stderr)

    def test_check_reports_a_failed_bind(self):
        r = run_adc(config(bind_password="Not-The-Password-1"), "check")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stderr, r"(?i)invalid credentials")
        self.assertIn("svc-adc", r.stderr)
        assert_no_secret(self, r, "Not-The-Password-1")

    def test_check_without_the_ca(self):
        r = run_adc(config(ca_file=None), "check")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stderr, r"(?i)certificate")


if __name__ == "__main__":
    unittest.main(verbosity=2)
