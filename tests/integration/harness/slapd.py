"""A real OpenLDAP slapd in a temporary directory, for tests and the benchmark.

    with Slapd(ldif=path_or_text, tls=True) as s:
        s.url, s.ldaps_url, s.base_dn, s.ca_file
        s.service_dn, s.service_password      # read-only account for adc's bind_dn
        s.admin_dn, s.admin_password          # rootdn
        s.ldapmodify(text); s.ldapadd(text); s.ldapdelete(dn); s.ldapsearch(...)
        s.pause(); s.resume(); s.kill(); s.stop(); s.start()

The database is loaded with slapadd before slapd starts (much faster than ldapadd for many
thousands of entries, and it can write operational attributes such as entryUUID and the ppolicy
lock). Backend mdb; schemas core, cosine, inetorgperson, nis; the ppolicy overlay. slapd listens
only on 127.0.0.1, on free ports. Everything is removed on exit, whatever happened.
"""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

from . import ldif as ldif_mod
from .lifecycle import Managed

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
SCHEMA_DIR = "/etc/ldap/schema"
MODULE_DIR = "/usr/lib/ldap"


# Every instance not yet closed. meson ends a test that runs too long with SIGTERM, which would
# skip the context managers: the handler closes them all (slapd killed, directory removed), then
# lets the signal do what it would have done (including an earlier handler, e.g. Samba's).
_live = set()
_sigterm_installed = False


def _close_all():
    for s in list(_live):
        s.close()


def _install_sigterm():
    global _sigterm_installed
    if _sigterm_installed or threading.current_thread() is not threading.main_thread():
        return
    prev = signal.getsignal(signal.SIGTERM)

    def handler(signum, frame):
        _close_all()
        signal.signal(signal.SIGTERM, prev if prev is not None else signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    signal.signal(signal.SIGTERM, handler)
    _sigterm_installed = True


atexit.register(_close_all)


def free_port():
    """A TCP port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(argv, stdin=None, check=True, timeout=600):
    r = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.strip()}")
    return r


def make_ca(directory, name="adc test CA"):
    """A self-signed CA: returns (cert path, key path). EC keys: fast to make."""
    os.makedirs(directory, exist_ok=True)
    cert = os.path.join(directory, "ca.pem")
    key = os.path.join(directory, "ca.key")
    _run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes", "-keyout", key, "-out", cert, "-days", "3", "-subj", f"/CN={name}",
          "-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    return cert, key


def make_server_cert(directory, ca_cert, ca_key, names=("localhost",), ips=("127.0.0.1",)):
    """A server certificate signed by the CA, valid for the given DNS names and IPs."""
    cert = os.path.join(directory, "server.pem")
    key = os.path.join(directory, "server.key")
    csr = os.path.join(directory, "server.csr")
    ext = os.path.join(directory, "server.ext")
    san = ",".join([f"DNS:{n}" for n in names] + [f"IP:{i}" for i in ips])
    with open(ext, "w") as f:
        f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n")
    _run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
          "-nodes", "-keyout", key, "-out", csr, "-subj", f"/CN={names[0]}"])
    _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key,
          "-CAcreateserial", "-out", cert, "-days", "3", "-extfile", ext])
    return cert, key


class Slapd(Managed):
    """One slapd instance. Arguments:
    ldif         path of an LDIF file, or LDIF text, or a list of ldif.User (loaded with slapadd
                 together with the base entries); None = only the base entries
    base_dn      suffix, default dc=example,dc=org
    tls          also listen on ldaps:// and offer StartTLS, with a fresh CA
    size_limit   slapd's size limit for the service account (None = unlimited)
    paged_limit  the total a paged search of the service account may return (slapd's
                 size.prtotal; default: size_limit). size_limit=500, paged_limit="unlimited"
                 makes a server where only a paged search can read more than 500 entries
    time_limit   slapd's time limit in seconds for the service account (None = unlimited)
    ppolicy      load the ppolicy overlay with a default policy (pwdLockout)
    syncprov     load the syncprov overlay (RFC 4533 content synchronization, for live
                 changes), with an entryCSN index and a session log, so that a consumer
                 resuming from a cookie gets the deletes since as syncUUIDs
                 (syncprov_sessionlog=False: no session log, so deletes made meanwhile are
                 only implied by a "present" phase)
    log_level    slapd log level (e.g. "stats": connections, operations and results, which
                 tests can wait for with wait_log); the log is self.log_path
    """

    admin_password = "admin-secret"
    service_password = "reader-secret"

    def __init__(self, ldif=None, base_dn=ldif_mod.BASE_DN, tls=False, size_limit=None,
                 time_limit=None, ppolicy=True, log_level="none", paged_limit=None,
                 syncprov=False, syncprov_sessionlog=True):
        self.base_dn = base_dn
        self.tls = tls
        self.size_limit = size_limit
        self.paged_limit = paged_limit
        self.time_limit = time_limit
        self.ppolicy = ppolicy
        self.syncprov = syncprov
        self.syncprov_sessionlog = syncprov_sessionlog
        self.log_level = log_level
        self._ldif = ldif
        self.dir = None
        self.proc = None
        self.port = None
        self.tls_port = None
        self.ca_file = None
        self.ca_key = None
        self.admin_dn = f"cn=admin,{base_dn}"
        self.service_dn = f"cn=reader,{base_dn}"

    # --- addresses ---------------------------------------------------------------------------
    @property
    def url(self):
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self):
        if not self.tls:
            raise RuntimeError("this slapd was started without tls=True")
        return f"ldaps://127.0.0.1:{self.tls_port}"

    @property
    def people_dn(self):
        return f"{ldif_mod.PEOPLE_OU},{self.base_dn}"

    @property
    def log_path(self):
        return os.path.join(self.dir, "slapd.log")

    # --- lifecycle ---------------------------------------------------------------------------
    def open(self):
        self.setup()
        self.start()

    def setup(self):
        """Creates the directory, configuration, certificates and the database."""
        self.dir = tempfile.mkdtemp(prefix="adc-slapd-")
        _live.add(self)
        _install_sigterm()
        os.makedirs(os.path.join(self.dir, "db"))
        self.port = free_port()
        if self.tls:
            self.tls_port = free_port()
            self.ca_file, self.ca_key = make_ca(os.path.join(self.dir, "ca"))
            self.cert_file, self.key_file = make_server_cert(self.dir, self.ca_file, self.ca_key)
        self.conf = os.path.join(self.dir, "slapd.conf")
        with open(self.conf, "w") as f:
            f.write(self._config())
        self._load()

    def _config(self):
        b = self.base_dn
        lines = [f"include {SCHEMA_DIR}/{s}.schema"
                 for s in ("core", "cosine", "inetorgperson", "nis")]
        lines += [
            f"modulepath {MODULE_DIR}",
            "moduleload back_mdb",
            f"pidfile {self.dir}/slapd.pid",
            f"argsfile {self.dir}/slapd.args",
            f"loglevel {self.log_level}",
            # The limits apply to everyone but the rootdn; tests of limits set them lower.
            "sizelimit unlimited",
            "timelimit unlimited",
        ]
        if self.ppolicy:
            lines.append("moduleload ppolicy")
        if self.syncprov:
            lines.append("moduleload syncprov")
        if self.tls:
            lines += [f"TLSCACertificateFile {self.ca_file}",
                      f"TLSCertificateFile {self.cert_file}",
                      f"TLSCertificateKeyFile {self.key_file}"]
        lines += [
            "database mdb",
            # mdb's default map is 10 MB; 100,000 users need more. The file is sparse.
            "maxsize 4294967296",
            f'suffix "{b}"',
            f'rootdn "{self.admin_dn}"',
            f"rootpw {self.admin_password}",
            f"directory {self.dir}/db",
            "index objectClass eq",
            "index uid,mail,cn eq",
            "index entryUUID eq",
        ]
        if self.syncprov:
            lines.append("index entryCSN eq")
        limits = []
        if self.size_limit is not None:
            n = self.size_limit
            total = self.paged_limit if self.paged_limit is not None else n
            limits.append(f"size.soft={n} size.hard={n} size.prtotal={total}")
        if self.time_limit is not None:
            limits.append(f"time.soft={self.time_limit} time.hard={self.time_limit}")
        if limits:
            lines.append(f'limits dn.exact="{self.service_dn}" ' + " ".join(limits))
        if self.ppolicy:
            lines += ["overlay ppolicy",
                      f'ppolicy_default "cn=default,ou=policies,{b}"']
        if self.syncprov:
            lines += ["overlay syncprov", "syncprov-checkpoint 100 1"]
            if self.syncprov_sessionlog:
                lines.append("syncprov-sessionlog 10000")
        # Access: the service account reads everything but passwords; anybody may bind
        # (auth); users read themselves. The root DSE and schema are public, as on real servers.
        lines += [
            'access to dn.base="" by * read',
            'access to dn.base="cn=Subschema" by * read',
            "access to attrs=userPassword",
            "  by self write",
            "  by anonymous auth",
            "  by * none",
            "access to *",
            f'  by dn.exact="{self.service_dn}" read',
            "  by self read",
            "  by anonymous auth",
            "  by * none",
        ]
        return "\n".join(lines) + "\n"

    def _base_ldif(self):
        b = self.base_dn
        text = ldif_mod.base_entries(b)
        text += (f"dn: {self.service_dn}\nobjectClass: organizationalRole\n"
                 f"objectClass: simpleSecurityObject\ncn: reader\n"
                 f"userPassword: {self.service_password}\n\n")
        if self.ppolicy:
            # pwdMaxFailure 0: failed binds never lock (tests and the benchmark try wrong
            # passwords on purpose); locks are set by hand with pwdAccountLockedTime.
            text += (f"dn: ou=policies,{b}\nobjectClass: organizationalUnit\nou: policies\n\n"
                     f"dn: cn=default,ou=policies,{b}\nobjectClass: organizationalRole\n"
                     f"objectClass: pwdPolicy\ncn: default\npwdAttribute: userPassword\n"
                     f"pwdLockout: TRUE\npwdMaxFailure: 0\n\n")
        return text

    def _load(self):
        base = os.path.join(self.dir, "base.ldif")
        with open(base, "w") as f:
            f.write(self._base_ldif())
        files = [base]
        data = self._ldif
        if isinstance(data, list):
            path = os.path.join(self.dir, "users.ldif")
            ldif_mod.write(path, data, self.base_dn, include_base=False)
            files.append(path)
        elif isinstance(data, str) and "\n" in data:
            path = os.path.join(self.dir, "data.ldif")
            with open(path, "w") as f:
                f.write(data)
            files.append(path)
        elif data is not None:
            files.append(data)
        for path in files:
            # -q: no consistency checks, the fast path for trusted fixtures.
            _run([SLAPADD, "-q", "-f", self.conf, "-l", path])

    def start(self, timeout=30):
        """Starts slapd (again, on the same ports and data after stop() or kill())."""
        urls = [self.url]
        if self.tls:
            urls.append(self.ldaps_url)
        log = open(self.log_path, "a")
        # -d: stay in the foreground (we own the process); the level given to -d is what goes
        # to stderr, i.e. our log file ("0": nothing).
        level = "0" if self.log_level == "none" else self.log_level
        self.proc = subprocess.Popen([SLAPD, "-d", level, "-f", self.conf, "-h", " ".join(urls)],
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"slapd exited with {self.proc.returncode}: {self._log_tail()}")
            if all(self._listening(p) for p in [self.port] + ([self.tls_port] if self.tls else [])):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"slapd did not start within {timeout}s: {self._log_tail()}")
            time.sleep(0.02)

    def _listening(self, port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            return False

    def log(self):
        """The slapd log so far (needs log_level, e.g. "stats")."""
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, needle, count=1, timeout=30):
        """Waits until `needle` occurs `count` times in the log; returns the log."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()
            if text.count(needle) >= count:
                return text
            if time.monotonic() > deadline:
                raise TimeoutError(f"{needle!r} did not appear {count} times in the slapd log")
            time.sleep(0.005)

    def adc_yaml(self, path, addr=None, page_size=100, username_attribute="mail",
                 username_filter_template="(&(objectClass=inetOrgPerson)(mail=%s))",
                 extra_ldap="", extra_sync="", auth_timeout=5, bind_password=None, base_dn=None,
                 scope="sub", filt="(objectClass=inetOrgPerson)"):
        """Writes an adc.yaml (mode 600) that reads this directory as the service account."""
        text = f"""settings:
  dry-run: true
backend:
  ldap:
    addr: {addr or self.url}
    bind_dn: "{self.service_dn}"
    bind_password: "{bind_password if bind_password is not None else self.service_password}"
    base_dn: "{base_dn or self.base_dn}"
    scope: {scope}
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

    def _log_tail(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def stop(self, timeout=20):
        """SIGTERM and wait (slapd flushes and exits)."""
        if self.proc and self.proc.poll() is None:
            self.resume()
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self):
        """SIGKILL: the server disappears mid-operation, connections are reset."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def pause(self):
        """SIGSTOP: the server stops answering but connections stay open (a hung server)."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def close(self):
        try:
            self.kill()
        finally:
            _live.discard(self)
            if self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None

    # --- the OpenLDAP command-line tools, as the rootdn by default ---------------------------
    def _auth(self, as_service=False):
        if as_service:
            return ["-x", "-D", self.service_dn, "-w", self.service_password]
        return ["-x", "-D", self.admin_dn, "-w", self.admin_password]

    def ldapmodify(self, text, relax=False, check=True):
        """Applies LDIF change records. relax=True sends the relax control, which lets the
        rootdn write operational attributes such as pwdAccountLockedTime."""
        argv = ["ldapmodify", "-H", self.url] + self._auth()
        if relax:
            argv += ["-e", "relax"]
        return _run(argv, stdin=text, check=check)

    def ldapadd(self, text, check=True):
        return _run(["ldapadd", "-H", self.url] + self._auth(), stdin=text, check=check)

    def ldapdelete(self, *dns, check=True):
        return _run(["ldapdelete", "-H", self.url] + self._auth() + list(dns), check=check)

    def ldapsearch(self, filt="(objectClass=*)", *attrs, base=None, scope="sub", paged=None,
                   as_service=False, check=True):
        argv = ["ldapsearch", "-LLL", "-o", "ldif-wrap=no", "-H", self.url,
                "-b", base or self.base_dn, "-s", scope] + self._auth(as_service)
        if paged:
            argv += ["-E", f"pr={paged}/noprompt"]
        return _run(argv + [filt] + list(attrs), check=check)

    def lock(self, dn):
        """Locks an account the ppolicy way (pwdAccountLockedTime)."""
        self.ldapmodify(f"dn: {dn}\nchangetype: modify\nreplace: pwdAccountLockedTime\n"
                        f"pwdAccountLockedTime: {ldif_mod.LOCKED_FOREVER}\n", relax=True)

    def unlock(self, dn):
        self.ldapmodify(f"dn: {dn}\nchangetype: modify\ndelete: pwdAccountLockedTime\n",
                        relax=True)
