"""A real Samba Active Directory domain controller in a temporary directory, for the AD tests.

    with SambaDC() as dc:                       # provisions and starts; stops and removes on exit
        dc.uri, dc.ca_file, dc.base_dn          # ldaps://127.0.0.1:636, its CA, DC=adc,DC=test
        dc.admin_dn, dc.admin_password          # CN=Administrator,CN=Users,...
        dc.ldapadd(ldif); dc.ldapmodify(ldif)   # as Administrator, over LDAPS
        dc.ldapdelete(dn, recursive=True); dc.set_password(dn, password)
        dc.ldapsearch("(objectClass=user)", ["objectGUID"], page_size=1000)
        dc.samba_tool("user", "disable", "someone")
        dc.grant_deleted_objects_read("svc-adc")  # tombstones for DirSync / show-deleted
        dc.timings                               # {"lock_wait", "provision", "start"}: seconds

Samba's LDAP server listens on the fixed ports 389, 636, 3268 and 3269 (there is no option to
move them), so only one instance can run on the machine at a time: start() takes a machine-wide
lock (LOCK_PATH) and waits for another test run, in any worktree, to finish. In meson the AD
tests are is_parallel: false for the same reason.

What makes it start in a few seconds: the provision is the stock one (SAMBA_INTERNAL DNS, so the
DomainDnsZones/ForestDnsZones partitions exist and a search from the domain root returns their
continuation references, as real AD does), but the server runs only its LDAP service (no KDC,
DNS, SMB, RPC, replication), in one process (-M single), bound to 127.0.0.1 only.

TLS: Samba would generate a certificate for its host name (DC1.adc.test), which a client that
connects to 127.0.0.1 cannot verify. So before the first start we put our own CA and a server
certificate for 127.0.0.1/localhost/dc1.adc.test at the paths Samba uses (private/tls/ca.pem,
cert.pem, key.pem); Samba then uses them instead of generating its own. Like AD, Samba refuses
simple binds over plain ldap:// (strong auth required); LDAPS and StartTLS work.

The server runs with -i (interactive), in which Samba exits when its stdin reaches end of file:
we keep a pipe open to it, so even if this Python process is killed, Samba goes away with it.
"""
import base64
import fcntl
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

SAMBA = shutil.which("samba") or "/usr/sbin/samba"
SAMBA_TOOL = shutil.which("samba-tool") or "/usr/bin/samba-tool"
LOCK_PATH = os.path.join(tempfile.gettempdir(), "adc-test-samba.lock")
HOST = "127.0.0.1"
PORTS = (389, 636, 3268, 3269)


class SambaError(RuntimeError):
    pass


# Adds an allow ACE for (list contents, read property) on CN=Deleted Objects for an account:
# what `dsacls "CN=Deleted Objects,DC=..." /G DOMAIN\account:LCRP` does on Windows. Run with the
# system python3 (Samba's bindings live there), on the DC's database; argv: smb.conf, account.
_GRANT_DELETED_READ = r"""
import re, sys, ldb
from samba.samdb import SamDB
from samba.param import LoadParm
from samba.auth import system_session
from samba.ndr import ndr_unpack, ndr_pack
from samba.dcerpc import security
lp = LoadParm(); lp.load(sys.argv[1])
db = SamDB(url=lp.samdb_url(), session_info=system_session(), lp=lp)
base = db.domain_dn()
sid = db.search(base, expression="(sAMAccountName=%s)" % sys.argv[2], attrs=["objectSid"])
sid = str(ndr_unpack(security.dom_sid, sid[0]["objectSid"][0]))
dn = "CN=Deleted Objects," + str(base)
controls = ["show_deleted:1", "sd_flags:1:4"]
res = db.search(dn, scope=ldb.SCOPE_BASE, attrs=["nTSecurityDescriptor"], controls=controls)
sddl = ndr_unpack(security.descriptor, res[0]["nTSecurityDescriptor"][0]).as_sddl()
sddl = re.sub(r"D:([A-Z]*)", lambda m: m.group(0) + "(A;;LCRP;;;%s)" % sid, sddl, count=1)
m = ldb.Message(); m.dn = ldb.Dn(db, dn)
m["nTSecurityDescriptor"] = ldb.MessageElement(
    ndr_pack(security.descriptor.from_sddl(sddl, security.dom_sid(sid))), ldb.FLAG_MOD_REPLACE,
    "nTSecurityDescriptor")
db.modify(m, controls=controls)
"""


def _run(argv, stdin=None, check=True, timeout=600, env=None):
    r = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout, env=env)
    if check and r.returncode != 0:
        raise SambaError(f"{' '.join(argv)} failed ({r.returncode}): "
                         f"{r.stderr.decode(errors='replace').strip()[-2000:]}")
    return r


def _port_open(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


def unicode_pwd(password):
    """The value of AD's unicodePwd for a password: the password in double quotes, UTF-16LE
    ([MS-ADTS] 3.1.1.3.1.5.1). Only writable over an encrypted connection."""
    return ('"' + password + '"').encode("utf-16-le")


def ldif_value(attr, value):
    """One LDIF line (RFC 2849); base64 unless the value is a safe ASCII string."""
    if isinstance(value, str):
        raw = value.encode("utf-8")
    else:
        raw = bytes(value)
    safe = (raw == b"" or (raw[0:1] not in (b" ", b":", b"<") and not raw.endswith(b" ")
            and all(0x20 <= b < 0x7f for b in raw)))
    if safe:
        return f"{attr}: {raw.decode()}\n"
    return f"{attr}:: {base64.b64encode(raw).decode()}\n"


def parse_ldapsearch(text):
    """Parses ldapsearch output (run with -o ldif-wrap=no): returns (entries, references,
    result code). Each entry is {"dn": str, attribute (lower case): [bytes, ...]}."""
    entries, refs, result = [], [], None
    for block in text.split(b"\n\n"):
        lines = [ln for ln in block.split(b"\n") if ln and not ln.startswith(b"#")]
        if not lines:
            continue
        first = lines[0]
        if first.startswith(b"dn:"):
            entry = {}
            for ln in lines:
                name, _, rest = ln.partition(b":")
                if rest.startswith(b":"):
                    value = base64.b64decode(rest[1:].strip())
                else:
                    value = rest[1:] if rest.startswith(b" ") else rest
                key = name.decode().lower()
                if key == "dn":
                    entry["dn"] = value.decode("utf-8")
                else:
                    entry.setdefault(key, []).append(value)
            entries.append(entry)
        elif first.startswith(b"ref:"):
            refs += [ln[4:].strip().decode() for ln in lines if ln.startswith(b"ref:")]
        else:
            for ln in lines:
                if ln.startswith(b"result:"):
                    result = int(ln.split()[1])
    return entries, refs, result


class SambaDC:
    REALM = "ADC.TEST"
    DOMAIN = "ADC"
    HOST_NAME = "dc1"
    BASE_DN = "DC=adc,DC=test"
    ADMIN_PASSWORD = "Adm1n-Test-Passw0rd"  # meets AD's default complexity rules

    def __init__(self, lock_timeout=450):
        self.lock_timeout = lock_timeout
        self.base_dn = self.BASE_DN
        self.realm = self.REALM
        self.admin_dn = f"CN=Administrator,CN=Users,{self.BASE_DN}"
        self.admin_password = self.ADMIN_PASSWORD
        self.uri = f"ldaps://{HOST}:636"
        self.ldap_uri = f"ldap://{HOST}:389"
        self.dir = None
        self.ca_file = None
        self.smb_conf = None
        self.log_path = None
        self.proc = None
        self.timings = {}
        self._lock = None
        self._prev_sigterm = None
        self._sigterm_caught = False

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        if os.geteuid() != 0:
            raise SambaError("the Samba AD domain controller must run as root (it binds ports "
                             "389 and 636 and insists on root-owned private files); run the "
                             "AD tests as root, as scripts/test.sh does in CI")
        for tool in (SAMBA, SAMBA_TOOL):
            if not os.access(tool, os.X_OK):
                raise SambaError(f"{tool} not found: run scripts/install-deps.sh (packages samba, "
                                 "samba-ad-dc, samba-ad-provision)")
        t_lock = time.monotonic()
        self._take_lock()
        lock_wait = time.monotonic() - t_lock
        self._catch_sigterm()
        busy = [p for p in PORTS if _port_open(p)]
        if busy:
            raise SambaError(f"something already listens on {HOST} port(s) "
                             f"{', '.join(map(str, busy))}; Samba needs 389, 636, 3268 and 3269 "
                             "(a stray samba or slapd on the standard ports?)")
        self.dir = tempfile.mkdtemp(prefix="adc-samba-")
        t0 = time.monotonic()
        self._provision()
        self._write_tls()
        t1 = time.monotonic()
        self._start_server()
        t2 = time.monotonic()
        self.timings = {"lock_wait": lock_wait, "provision": t1 - t0, "start": t2 - t1}

    def restart(self):
        """Stops the server and starts it again on the same database, as a DC reboot does:
        clients lose their connections (and change notifications)."""
        self._stop_server()
        self._start_server()

    def stop(self):
        """Stops the server (its whole process group) and removes the directory. Idempotent."""
        self._stop_server()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        if self._lock is not None:
            self._lock.close()  # releases the flock
            self._lock = None
        if self._sigterm_caught:
            prev = self._prev_sigterm
            signal.signal(signal.SIGTERM, prev if prev is not None else signal.SIG_DFL)
            self._sigterm_caught = False

    def _stop_server(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # -i: Samba exits on EOF on stdin
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)  # its own group: start_new_session=True
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                continue
        self.proc = None

    def _catch_sigterm(self):
        """meson ends a test that runs too long with SIGTERM, which would skip every cleanup:
        stop Samba and remove its directory first, then die of the signal as intended."""
        if threading.current_thread() is not threading.main_thread():
            return

        def handler(signum, frame):
            self.stop()  # restores the previous handler
            os.kill(os.getpid(), signum)

        self._prev_sigterm = signal.signal(signal.SIGTERM, handler)
        self._sigterm_caught = True

    def log_tail(self, n=40):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")

    def _take_lock(self):
        self._lock = open(LOCK_PATH, "a")
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._lock.close()
                    self._lock = None
                    raise SambaError(f"another Samba test run holds {LOCK_PATH} for more than "
                                     f"{self.lock_timeout}s")
                time.sleep(0.5)

    def _provision(self):
        options = {
            "interfaces": HOST,
            "bind interfaces only": "yes",
            # No fsync in the databases (as Samba's own selftest runs): a test domain need not
            # survive a power cut, and adding ~1200 users is several times faster.
            "ldb:nosync": "true",
            # Only what an LDAP client needs: LDAP(S) and the global catalog ports.
            "server services": "ldap",
            "log file": os.path.join(self.dir, "log.samba"),
            "pid directory": os.path.join(self.dir, "run"),
            "ncalrpc dir": os.path.join(self.dir, "run", "ncalrpc"),
            "winbindd socket directory": os.path.join(self.dir, "run", "winbindd"),
            "ntp signd socket directory": os.path.join(self.dir, "run", "ntp_signd"),
            "dns forwarder": HOST,  # never asked (no DNS service); keeps the file machine-free
        }
        argv = [SAMBA_TOOL, "domain", "provision", f"--targetdir={self.dir}",
                f"--realm={self.REALM}", f"--domain={self.DOMAIN}", "--server-role=dc",
                "--dns-backend=SAMBA_INTERNAL", f"--host-name={self.HOST_NAME}",
                f"--adminpass={self.ADMIN_PASSWORD}", "--use-rfc2307"]
        argv += [f"--option={k}={v}" for k, v in options.items()]
        r = _run(argv, check=False, timeout=600)
        if r.returncode != 0:
            raise SambaError(f"samba-tool domain provision failed ({r.returncode}):\n"
                             + (r.stdout + r.stderr).decode(errors="replace")[-3000:])
        self.smb_conf = os.path.join(self.dir, "etc", "smb.conf")
        os.makedirs(os.path.join(self.dir, "run"), exist_ok=True)

    def _write_tls(self):
        tls = os.path.join(self.dir, "private", "tls")
        os.makedirs(tls, mode=0o700, exist_ok=True)
        ca, ca_key = os.path.join(tls, "ca.pem"), os.path.join(self.dir, "ca.key")
        cert, key = os.path.join(tls, "cert.pem"), os.path.join(tls, "key.pem")
        csr, ext = os.path.join(self.dir, "server.csr"), os.path.join(self.dir, "server.ext")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        _run(["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "3",
              "-subj", "/O=ad-connect tests/CN=adc test AD CA",
              "-addext", "basicConstraints=critical,CA:TRUE",
              "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        fqdn = f"{self.HOST_NAME}.{self.REALM.lower()}"
        with open(ext, "w") as f:
            f.write(f"subjectAltName=DNS:{fqdn},DNS:localhost,IP:{HOST}\n"
                    "basicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n")
        _run(["openssl", "req", *ec, "-keyout", key, "-out", csr, "-subj", f"/CN={fqdn}"])
        _run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
              "-CAcreateserial", "-out", cert, "-days", "3", "-extfile", ext])
        os.chmod(key, 0o600)  # Samba refuses a private key others can read
        self.ca_file = ca

    def _start_server(self):
        self.log_path = os.path.join(self.dir, "samba.out")
        log = open(self.log_path, "wb")
        try:
            self.proc = subprocess.Popen(
                [SAMBA, "-i", "-M", "single", "-s", self.smb_conf, "--debuglevel=1"],
                stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        finally:
            log.close()
        ctx = ssl.create_default_context(cafile=self.ca_file)
        deadline = time.monotonic() + 120
        last = "nothing yet"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SambaError(f"samba exited with status {self.proc.returncode} while "
                                 f"starting:\n{self.log_tail()}")
            try:
                with socket.create_connection((HOST, 636), timeout=2) as s:
                    with ctx.wrap_socket(s, server_hostname=HOST):
                        pass
                # TLS answers; now the LDAP layer: read the rootDSE.
                r = self._ldap("ldapsearch", ["-x", "-b", "", "-s", "base",
                                              "(objectClass=*)", "dsServiceName"], check=False)
                if r.returncode == 0:
                    return
                last = r.stderr.decode(errors="replace").strip()
            except (OSError, ssl.SSLError) as e:
                last = str(e)
            time.sleep(0.1)
        raise SambaError(f"Samba's LDAPS on {HOST}:636 did not answer within 120s "
                         f"(last: {last}):\n{self.log_tail()}")

    # --- clients ---------------------------------------------------------------------------

    def ldap_env(self):
        """Environment for OpenLDAP's command line tools: trust our CA, verify it."""
        env = dict(os.environ)
        env.update({"LDAPTLS_CACERT": self.ca_file, "LDAPTLS_REQCERT": "demand",
                    "LDAPRC": os.devnull})
        return env

    def _ldap(self, tool, args, stdin=None, check=True, timeout=300):
        return _run([tool, "-H", self.uri, *args], stdin=stdin, check=check, timeout=timeout,
                    env=self.ldap_env())

    def _admin(self):
        return ["-x", "-D", self.admin_dn, "-w", self.admin_password]

    def ldapadd(self, ldif):
        """Adds the entries of an LDIF text (str or bytes) as Administrator, in one connection."""
        data = ldif.encode("utf-8") if isinstance(ldif, str) else ldif
        return self._ldap("ldapadd", [*self._admin()], stdin=data)

    def ldapmodify(self, ldif):
        data = ldif.encode("utf-8") if isinstance(ldif, str) else ldif
        return self._ldap("ldapmodify", [*self._admin()], stdin=data)

    def ldapdelete(self, *dns, recursive=False):
        """Deletes entries as Administrator (recursive: with everything below them)."""
        args = [*self._admin(), *(["-r"] if recursive else []), *dns]
        return self._ldap("ldapdelete", args)

    def ldapsearch(self, filt, attrs=(), base=None, scope="sub", page_size=None,
                   bind=None):
        """Searches (as Administrator unless bind=(dn, password)); returns (entries, references)
        as parse_ldapsearch does. Raises if the search does not end with success."""
        dn, pw = bind or (self.admin_dn, self.admin_password)
        args = ["-x", "-D", dn, "-w", pw, "-o", "ldif-wrap=no",
                "-b", base if base is not None else self.base_dn, "-s", scope]
        if page_size:
            args += ["-E", f"pr={page_size}/noprompt"]
        r = self._ldap("ldapsearch", [*args, filt, *attrs])
        entries, refs, result = parse_ldapsearch(r.stdout)
        if result != 0:
            raise SambaError(f"ldapsearch {filt} ended with result {result}")
        return entries, refs

    def set_password(self, dn, password):
        """Sets a user's password as Administrator (unicodePwd, over LDAPS)."""
        self.ldapmodify(ldif_value("dn", dn) + "changetype: modify\nreplace: unicodePwd\n"
                        + ldif_value("unicodePwd", unicode_pwd(password)) + "-\n")

    def grant_deleted_objects_read(self, account):
        """Lets `account` (a sAMAccountName) list and read CN=Deleted Objects, so that DirSync
        and the show-deleted control return tombstones to it (by default only administrators
        see them). Samba's Python bindings belong to the system python3."""
        _run(["/usr/bin/python3", "-c", _GRANT_DELETED_READ, self.smb_conf, account])

    def samba_tool(self, *args):
        """samba-tool on this DC's database (e.g. "user", "disable", NAME)."""
        r = _run([SAMBA_TOOL, *args, "-s", self.smb_conf], check=True)
        return r.stdout.decode(errors="replace")
