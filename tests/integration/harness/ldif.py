"""Deterministic directories of N users as LDIF (RFC 2849), shared by the LDAP, sync and
benchmark tests.

    users = ldif.generate(5000)                   # 5000 regular users + the special cases
    ldif.write(path, users, base_dn)              # for Slapd(ldif=path) (slapadd)
    exp = ldif.expected(users, "mail")            # what `adc users --json` must report

Regular user i (0-based) is uid=user<i:06d>, mail user<i:06d>@example.org, password
"pw-user<i:06d>". With special=True a fixed set of awkward entries follows them (SPECIAL_UIDS):
non-ASCII names, DNs with escaped characters, missing and multi-valued attributes, two entries
whose mail differs only in case, a ppolicy-locked account. Compare DNs with User.server_dn: slapd
answers with hex escapes. Everything, including entryUUID
(uuid5 of the DN), is a pure function of the arguments, so tests can compare exact output.
"""
import base64
import dataclasses
import hashlib
import uuid

BASE_DN = "dc=example,dc=org"
PEOPLE_OU = "ou=people"
MAIL_DOMAIN = "example.org"
# ppolicy: this value locks an account until an administrator removes it (OpenLDAP ppolicy).
LOCKED_FOREVER = "000001010000Z"


@dataclasses.dataclass
class User:
    rdn: str                     # e.g. "uid=user000001" or "cn=Smith\\, John" (escaped, RFC 4514)
    uid: str
    cn: list
    sn: list
    given_name: list = dataclasses.field(default_factory=list)
    display_name: list = dataclasses.field(default_factory=list)
    mail: list = dataclasses.field(default_factory=list)
    password: str = ""
    locked: bool = False         # pwdAccountLockedTime set (ppolicy lock)
    base_dn: str = BASE_DN
    # The RDN as slapd returns it when that differs from `rdn`: OpenLDAP answers with its
    # "pretty" form, which hex-escapes ("cn=Smith\\2C John" for "cn=Smith\\, John").
    server_rdn: str = None

    @property
    def dn(self):
        return f"{self.rdn},{PEOPLE_OU},{self.base_dn}"

    @property
    def server_dn(self):
        """The DN as slapd reports it in search results."""
        return f"{self.server_rdn or self.rdn},{PEOPLE_OU},{self.base_dn}"

    @property
    def entry_uuid(self):
        return str(uuid.uuid5(uuid.NAMESPACE_X500, self.dn.lower()))

    def attr(self, name):
        """Values of a directory attribute by (case-insensitive) name, as a list."""
        n = name.lower()
        table = {"uid": [self.uid], "cn": self.cn, "sn": self.sn, "givenname": self.given_name,
                 "displayname": self.display_name, "mail": self.mail,
                 "entryuuid": [self.entry_uuid]}
        return list(table.get(n, []))


def regular_user(i, base_dn=BASE_DN):
    uid = f"user{i:06d}"
    given = f"Given{i}"
    family = f"Family{i}"
    return User(rdn=f"uid={uid}", uid=uid, cn=[f"{given} {family}"], sn=[family],
                given_name=[given], display_name=[f"{given} {family}"],
                mail=[f"{uid}@{MAIL_DOMAIN}"], password=f"pw-{uid}", base_dn=base_dn)


def special_users(base_dn=BASE_DN):
    """The awkward entries. Each one's uid says what it tests."""
    def u(**kw):
        kw.setdefault("base_dn", base_dn)
        kw.setdefault("password", "pw-" + kw["uid"])
        return User(**kw)
    d = MAIL_DOMAIN
    return [
        # Non-ASCII names (UTF-8; LDIF carries them base64-encoded), one also in the DN and the
        # uid (mail is IA5String: ASCII only).
        u(rdn="uid=zoe", uid="zoe", cn=["Zoë Ångström"], sn=["Ångström"], given_name=["Zoë"],
          display_name=["Zoë Ångström"], mail=[f"zoe@{d}"]),
        u(rdn="cn=Jürgen Müller", uid="jürgen", cn=["Jürgen Müller"], sn=["Müller"],
          given_name=["Jürgen"], display_name=["Jürgen Müller"], mail=[f"juergen.mueller@{d}"],
          password="pässwörd-ü"),
        u(rdn="uid=yamada", uid="yamada", cn=["山田 太郎"], sn=["山田"], given_name=["太郎"],
          display_name=["山田 太郎"], mail=[f"yamada@{d}"]),
        # DNs with characters that RFC 4514 escapes.
        u(rdn="cn=Smith\\, John", server_rdn="cn=Smith\\2C John", uid="jsmith",
          cn=["Smith, John"], sn=["Smith"], given_name=["John"], display_name=["John Smith"],
          mail=[f"john.smith@{d}"]),
        u(rdn="cn=Doe \\+ Partners \\#1", server_rdn="cn=Doe \\2B Partners #1", uid="doeplus",
          cn=["Doe + Partners #1"], sn=["Doe"], mail=[f"doe.partners@{d}"],
          display_name=["Doe + Partners"]),
        u(rdn="cn=\\#hash\\=sign \\\\ back", server_rdn="cn=\\23hash\\3Dsign \\5C back",
          uid="hashsign", cn=["#hash=sign \\ back"], sn=["Sign"], mail=[f"hash.sign@{d}"]),
        # Missing attributes: no displayName (cn is the fallback), no givenName.
        u(rdn="uid=nodisplay", uid="nodisplay", cn=["No Display"], sn=["Display"],
          given_name=["No"], mail=[f"nodisplay@{d}"]),
        u(rdn="uid=nogiven", uid="nogiven", cn=["Nogiven Person"], sn=["Person"],
          display_name=["Nogiven Person"], mail=[f"nogiven@{d}"]),
        # No mail: no usable name when username_attribute is mail.
        u(rdn="uid=nomail", uid="nomail", cn=["No Mail"], sn=["Mail"], given_name=["No"],
          display_name=["No Mail"]),
        # Multi-valued: two mails (the first names the user when username_attribute is mail,
        # the second is a further address), two given names and two cns (the first is taken).
        u(rdn="uid=twomail", uid="twomail", cn=["Two Mail"], sn=["Mail"], given_name=["Two"],
          display_name=["Two Mail"], mail=[f"twomail@{d}", f"two.mail@{d}"]),
        u(rdn="uid=multigiven", uid="multigiven", cn=["Multi Given", "M. Given"], sn=["Given"],
          given_name=["Multi", "Second"], mail=[f"multigiven@{d}"]),
        # Duplicate names, differing only in case: both are skipped (rule 8).
        u(rdn="uid=dup1", uid="dup1", cn=["Dup One"], sn=["One"], display_name=["Dup One"],
          mail=[f"Dup.User@{d}"]),
        u(rdn="uid=dup2", uid="dup2", cn=["Dup Two"], sn=["Two"], display_name=["Dup Two"],
          mail=[f"dup.user@{d}"]),
        # Locked by ppolicy: inactive, and its password check is denied.
        u(rdn="uid=locked", uid="locked", cn=["Locked Out"], sn=["Out"], given_name=["Locked"],
          display_name=["Locked Out"], mail=[f"locked@{d}"], locked=True),
    ]


SPECIAL_UIDS = [s.uid for s in special_users()]


def generate(n, base_dn=BASE_DN, special=True, start=0):
    """n regular users (numbered from `start`), then the special ones when special=True."""
    users = [regular_user(i, base_dn) for i in range(start, start + n)]
    if special:
        users += special_users(base_dn)
    return users


def ssha(password, salt):
    """{SSHA} hash as slapd checks it (the salt is derived from the name so output is stable)."""
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def _safe(value):
    """RFC 2849 SAFE-STRING: printable ASCII not starting with space, ':' or '<'."""
    if value == "":
        return True
    if value[0] in " :<" or value[-1] == " ":
        return False
    return all(0x20 <= ord(c) < 0x7f for c in value)


def _line(attr, value):
    if _safe(value):
        return f"{attr}: {value}\n"
    return f"{attr}:: {base64.b64encode(value.encode()).decode()}\n"


def base_entries(base_dn=BASE_DN):
    """The suffix entry and the organizational units the users live in."""
    dc = base_dn.split(",")[0].split("=", 1)[1]
    return (f"dn: {base_dn}\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\n"
            f"o: {dc}\ndc: {dc}\n\n"
            f"dn: {PEOPLE_OU},{base_dn}\nobjectClass: organizationalUnit\nou: people\n\n")


def entry(u, operational=True):
    """One user entry. operational=True adds entryUUID and the ppolicy lock, which only slapadd
    (or the relax control) may write."""
    out = [_line("dn", u.dn), "objectClass: top\n", "objectClass: person\n",
           "objectClass: organizationalPerson\n", "objectClass: inetOrgPerson\n",
           _line("uid", u.uid)]
    for attr, values in (("cn", u.cn), ("sn", u.sn), ("givenName", u.given_name),
                         ("displayName", u.display_name), ("mail", u.mail)):
        out += [_line(attr, v) for v in values]
    if u.password:
        out.append(_line("userPassword", ssha(u.password, u.uid.encode()[:8].ljust(8, b"."))))
    if operational:
        out.append(f"entryUUID: {u.entry_uuid}\n")
        if u.locked:
            out.append(f"pwdAccountLockedTime: {LOCKED_FOREVER}\n")
    out.append("\n")
    return "".join(out)


def write(path, users, base_dn=BASE_DN, include_base=True, operational=True):
    """Writes the LDIF (streaming: fine for 100,000 users)."""
    with open(path, "w", encoding="utf-8") as f:
        if include_base:
            f.write(base_entries(base_dn))
        for u in users:
            f.write(entry(u, operational))
    return path


def _emails(mails):
    """The addresses adc reports: the first, then the others once each (case-insensitively)."""
    if not mails:
        return None
    out = [mails[0]]
    for m in mails[1:]:
        if m.lower() not in {o.lower() for o in out}:
            out.append(m)
    return out


def expected(users, username_attribute="mail"):
    """What adc must report for these users with this username attribute and the default
    attribute mapping: {"users": {userName: {...}}, "skipped": {dn: reason-keyword}}.
    Reasons are keywords the message must contain: "no value", "duplicate". Several values of
    the username attribute are aliases: the first names the user (docs/adc.yaml.5); the mails
    after the first are further addresses ("emails", the primary first). Both are keyed as
    slapd reports them (server_dn; skipped by its lower-case form)."""
    by_name = {}
    skipped = {}
    for u in users:
        names = u.attr(username_attribute)
        if not names:
            skipped[u.server_dn.lower()] = "no value"
            continue
        by_name.setdefault(names[0].lower(), []).append(u)
    result = {}
    for key, group in by_name.items():
        if len(group) > 1:
            for u in group:
                skipped[u.server_dn.lower()] = "duplicate"
            continue
        u = group[0]
        name = u.attr(username_attribute)[0]
        result[name] = {
            "userName": name,
            "externalId": u.entry_uuid,
            "displayName": (u.display_name or u.cn or [None])[0],
            "givenName": (u.given_name or [None])[0],
            "familyName": (u.sn or [None])[0],
            "email": (u.mail or [None])[0],
            "emails": _emails(u.mail),
            "idAttribute": "entryUUID",
            "active": not u.locked,
            "dn": u.server_dn,
        }
    return {"users": result, "skipped": skipped}
