"""A real 389 Directory Server (389-ds-base 2.x) in a temporary directory, for tests.

    with DirSrv(ldif=[ldif.User, ...]) as d:
        d.url, d.ldaps_url, d.base_dn, d.ca_file, d.tls_host
        d.service_dn, d.service_password      # read-only account for adc's bind_dn
        d.admin_dn, d.admin_password          # cn=Directory Manager
        d.ldapmodify(text); d.ldapadd(text); d.ldapdelete(dn); d.ldapsearch(filter, attrs...)
        d.dsidm("account", "lock", dn); d.dsconf("pwpolicy", "set", "--pwdmustchange", "on")
        d.lock(dn); d.unlock(dn)              # dsidm account lock / unlock (nsAccountLock)

How it runs without systemd: `dscreate` reads its paths from `$PREFIX/share/dirsrv/inf/
defaults.inf`. The harness writes a copy of the system's file there with `with_systemd = 0` and
every state path (configuration, database, logs, run and lock files, the ldapi socket) moved
under a private root in /tmp, keeping the programs, plugins and system schema where the package
put them. The server runs as the `dirsrv` user, so the root and its directories are mode 755.
`dsctl`, `dsconf` and `dsidm` find the instance through the same PREFIX and talk to it over its
ldapi socket as root (autobind: no password). Creating an instance takes 10-20 s: share one per
test module.

The initial entries are loaded with an online import (`dsconf backend import`), as slapadd
loads slapd: fast, and it keeps what the LDIF says, entryUUID included. An entry imported
without entryUUID has only nsUniqueId - as entries created before 389-ds 2.x's entryUUID plugin
was enabled do - while every entry added later over LDAP gets an entryUUID from the plugin.

The server certificate is the instance's self-signed one, issued by its own CA (`ca_file`) for
`tls_host`: the host name libldap compares `ldaps://localhost` with (libldap replaces
"localhost" by the machine's canonical name before checking the certificate).
"""
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from . import ldif as ldif_mod
from .lifecycle import Managed
# One registry of running peers, closed on SIGTERM and at exit (slapd.py), as postgres.py uses.
from .slapd import _install_sigterm, _live

DEFAULTS_INF = "/usr/share/dirsrv/inf/defaults.inf"
SYSCONF_DIRSRV = "/etc/dirsrv"
# defaults.inf keys that name the installed programs and data: kept; every other absolute path
# is state and moves under the private root.
_KEEP = {"prefix", "bin_dir", "sbin_dir", "lib_dir", "data_dir", "inst_dir", "plugin_dir",
         "system_schema_dir"}
_STATE_DIRS = ("var/log/dirsrv", "var/lib/dirsrv", "run/lock/dirsrv", "run/dirsrv", "tmp",
               "dev/shm", "etc/dirsrv")


def available():
    """Whether 389-ds-base is installed (dscreate and its defaults.inf)."""
    return os.path.exists(DEFAULTS_INF) and shutil.which("dscreate") is not None


def libldap_host_name():
    """The name libldap checks a certificate against for ldaps://localhost: the canonical name
    of the machine's host name (ldap_pvt_get_fqdn)."""
    name = socket.gethostname()
    try:
        return socket.gethostbyname_ex(name)[0]
    except OSError:
        return name


def _run(argv, stdin=None, check=True, timeout=300, env=None):
    r = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout,
                       env=env)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): "
                           f"{r.stderr.strip() or r.stdout.strip()}")
    return r



def free_port_all_interfaces(avoid=None):
    """A TCP port free on every address, below the kernel's ephemeral range. ns-slapd listens
    on all interfaces (lib389 has no listen-host setting at install time), so a port the kernel
    picked for us on 127.0.0.1 (free_port) can meanwhile become the local port of some other
    test's outgoing connection, and ns-slapd's bind then fails with "address in use" (seen in
    CI under load). Ports below the ephemeral range are never handed out that way."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        port = random.randrange(10000, max(low, 10001))
        if port == avoid:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port below the ephemeral range")

class DirSrv(Managed):
    """One 389-ds instance. Arguments:
    ldif        a list of ldif.User, or LDIF text, imported with the base entries; None = only
                the base entries (suffix, ou=people, the service account)
    entry_uuid  write the users' entryUUID into the imported LDIF (the deterministic
                ldif.User.entry_uuid); a list of uids imports those users without one
    base_dn     suffix, default dc=example,dc=org
    """

    admin_dn = "cn=Directory Manager"
    admin_password = "dm-Secret-389"
    service_password = "reader-secret-389"

    def __init__(self, ldif=None, base_dn=ldif_mod.BASE_DN, entry_uuid=True,
                 instance="adc"):
        self.base_dn = base_dn
        self.instance = instance
        self._ldif = ldif
        self._entry_uuid = entry_uuid
        self.root = None
        self.port = None
        self.tls_port = None
        self.tls_host = libldap_host_name()
        self.service_dn = f"cn=reader,{base_dn}"

    # --- addresses and paths -----------------------------------------------------------------
    @property
    def url(self):
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self):
        """ldaps:// by the name the certificate is valid for (see the module's docstring)."""
        return f"ldaps://localhost:{self.tls_port}"

    @property
    def people_dn(self):
        return f"{ldif_mod.PEOPLE_OU},{self.base_dn}"

    @property
    def config_dir(self):
        return os.path.join(self.root, "etc/dirsrv", f"slapd-{self.instance}")

    @property
    def ca_file(self):
        return os.path.join(self.config_dir, "ca.crt")

    @property
    def pid_file(self):
        return os.path.join(self.root, "run/dirsrv", f"slapd-{self.instance}.pid")

    @property
    def ldif_dir(self):
        return os.path.join(self.root, "var/lib/dirsrv", f"slapd-{self.instance}", "ldif")

    @property
    def error_log(self):
        return os.path.join(self.root, "var/log/dirsrv", f"slapd-{self.instance}", "errors")

    def env(self):
        e = dict(os.environ)
        e["PREFIX"] = self.root
        return e

    # --- lifecycle ---------------------------------------------------------------------------
    def open(self):
        self.root = tempfile.mkdtemp(prefix="adc-dirsrv-")
        _live.add(self)
        _install_sigterm()
        os.chmod(self.root, 0o755)
        self._write_defaults()
        shutil.copytree(SYSCONF_DIRSRV, os.path.join(self.root, "etc/dirsrv"))
        for d in _STATE_DIRS:
            os.makedirs(os.path.join(self.root, d), exist_ok=True)
        for dirpath, dirnames, _ in os.walk(self.root):
            os.chmod(dirpath, 0o755)
        self.port = free_port_all_interfaces()
        self.tls_port = free_port_all_interfaces(avoid=self.port)
        inf = os.path.join(self.root, "instance.inf")
        with open(inf, "w") as f:
            f.write(f"[general]\nfull_machine_name = {self.tls_host}\nstart = True\n"
                    f"[slapd]\ninstance_name = {self.instance}\nport = {self.port}\n"
                    f"secure_port = {self.tls_port}\nroot_dn = {self.admin_dn}\n"
                    f"root_password = {self.admin_password}\nself_sign_cert = True\n"
                    f"[backend-userroot]\nsuffix = {self.base_dn}\nsample_entries = no\n"
                    f"create_suffix_entry = False\n")
        _run(["dscreate", "from-file", inf], env=self.env(), timeout=600)
        self._import()

    def _write_defaults(self):
        out = []
        with open(DEFAULTS_INF) as f:
            for line in f:
                m = re.match(r"^(\w+) = (.*)$", line.rstrip("\n"))
                if m:
                    key, value = m.groups()
                    if key == "with_systemd":
                        value = "0"
                    elif key not in _KEEP and value.startswith("/"):
                        value = self.root + value
                    line = f"{key} = {value}\n"
                out.append(line)
        path = os.path.join(self.root, "share/dirsrv/inf")
        os.makedirs(path)
        with open(os.path.join(path, "defaults.inf"), "w") as f:
            f.writelines(out)

    def _base_ldif(self):
        b = self.base_dn
        # The service account reads everything but passwords (read, search, compare: adc's
        # lookups and `adc check`'s probes).
        aci = (f'(targetattr!="userPassword")(version 3.0; acl "adc reader"; allow (read, '
               f'search, compare) userdn="ldap:///{self.service_dn}";)')
        # Users change their own password, as 389's default ACIs allow.
        self_pw = ('(targetattr="userPassword")(version 3.0; acl "self password"; allow (write) '
                   'userdn="ldap:///self";)')
        return (ldif_mod.base_entries(b).replace("\n\n", f"\naci: {aci}\naci: {self_pw}\n\n", 1) +
                f"dn: {self.service_dn}\nobjectClass: top\nobjectClass: applicationProcess\n"
                f"objectClass: simpleSecurityObject\ncn: reader\n"
                f"userPassword: {self.service_password}\n\n")

    def _import(self):
        data = self._ldif
        text = self._base_ldif()
        if isinstance(data, list):
            skip = set(self._entry_uuid) if isinstance(self._entry_uuid, (list, set)) else set()
            for u in data:
                with_uuid = self._entry_uuid is True or (skip and u.uid not in skip)
                e = ldif_mod.entry(u, operational=False)
                if with_uuid:
                    e = e[:-1] + f"entryUUID: {u.entry_uuid}\n\n"
                text += e
        elif isinstance(data, str):
            text += data
        os.makedirs(self.ldif_dir, exist_ok=True)
        path = os.path.join(self.ldif_dir, "initial.ldif")
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, 0o644)
        self.dsconf("backend", "import", "userroot", path)

    def pid(self):
        try:
            with open(self.pid_file) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def stop(self, timeout=60):
        """Ends the server (SIGTERM, then SIGKILL): it was started by dscreate for us."""
        pid = self.pid()
        if not pid:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def close(self):
        try:
            if self.root:
                self.stop()
        finally:
            _live.discard(self)
            if self.root:
                shutil.rmtree(self.root, ignore_errors=True)
                self.root = None

    # --- the administration tools (ldapi autobind as root) ------------------------------------
    def dsconf(self, *args, check=True):
        return _run(["dsconf", self.instance, *args], env=self.env(), check=check)

    def dsidm(self, *args, check=True):
        return _run(["dsidm", "-b", self.base_dn, self.instance, *args], env=self.env(),
                    check=check)

    def lock(self, dn):
        """`dsidm account lock`: nsAccountLock: true."""
        return self.dsidm("account", "lock", dn)

    def unlock(self, dn):
        return self.dsidm("account", "unlock", dn)

    # --- the OpenLDAP command-line tools, as Directory Manager by default --------------------
    def _auth(self, as_service=False):
        if as_service:
            return ["-x", "-D", self.service_dn, "-w", self.service_password]
        return ["-x", "-D", self.admin_dn, "-w", self.admin_password]

    def ldapmodify(self, text, check=True):
        return _run(["ldapmodify", "-H", self.url] + self._auth(), stdin=text, check=check)

    def ldapadd(self, text, check=True):
        return _run(["ldapadd", "-H", self.url] + self._auth(), stdin=text, check=check)

    def ldapdelete(self, *dns, check=True):
        return _run(["ldapdelete", "-H", self.url] + self._auth() + list(dns), check=check)

    def ldapsearch(self, filt, *attrs, base=None, as_service=False, check=True):
        argv = (["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-H", self.url] +
                self._auth(as_service) + ["-b", base or self.base_dn, filt] + list(attrs))
        return _run(argv, check=check)

    def bind(self, dn, password):
        """A simple bind as dn (ldapwhoami): the CompletedProcess."""
        return _run(["ldapwhoami", "-H", self.url, "-x", "-D", dn, "-w", password], check=False)

    # --- adc's configuration -----------------------------------------------------------------
    def adc_yaml(self, path, addr=None, page_size=100, username_attribute="mail",
                 username_filter_template="(&(objectClass=inetOrgPerson)(mail=%s))",
                 extra_ldap="", extra_sync="", auth_timeout=5, bind_dn=None,
                 bind_password=None, filt="(objectClass=inetOrgPerson)"):
        """Writes an adc.yaml (mode 600) that reads this directory as the service account."""
        text = f"""settings:
  dry-run: true
backend:
  ldap:
    addr: {addr or self.url}
    bind_dn: "{bind_dn or self.service_dn}"
    bind_password: "{bind_password if bind_password is not None else self.service_password}"
    base_dn: "{self.base_dn}"
{extra_ldap}    sync:
      page_size: {page_size}
      filter: "{filt}"
{extra_sync}    authentication:
      username_attribute: {username_attribute}
      username_filter_template: "{username_filter_template}"
      timeout: {auth_timeout}
"""
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return path
