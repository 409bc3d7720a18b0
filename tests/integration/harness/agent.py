"""`adc run` as systemd would run it: in a temporary directory with its adc.cfg and adc.yaml,
under a NOTIFY_SOCKET the harness listens on (sd_notify messages: READY=1, RELOADING=1,
STOPPING=1, STATUS=...), with its log in a file.

    with Agent(server_url, app_id, secret, slapd) as a:
        a.wait_notify("READY=1")
        a.hup(); a.term(); a.wait()
        a.log()                      # everything adc printed so far
"""
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time

from .programs import ADC


def yaml_text(slapd, username_attribute="mail", dry_run=False, extra_settings=None,
              filter_="(objectClass=inetOrgPerson)", ldap_extra=None, addr=None, watch="off",
              poll_interval=None):
    """An adc.yaml for a harness.slapd.Slapd, with the documented keys; ldap_extra adds keys
    under backend.ldap (e.g. {"timeout": 3}); addr replaces slapd.url (e.g. slapd.ldaps_url,
    with ldap_extra={"ca_file": slapd.ca_file}). Live changes are off unless `watch` says
    otherwise ("auto", "syncrepl", "poll"): tests of commanded syncs count what the first sync
    does, which a startup full sync would do before them."""
    settings = {"dry-run": dry_run, "delete-disables": False}
    settings.update(extra_settings or {})
    lines = ["settings:"]
    lines += [f"  {k}: {'true' if v else 'false'}" for k, v in settings.items()]
    lines += [
        "backend:",
        "  ldap:",
        f"    addr: {addr or slapd.url}",
        f"    bind_dn: {slapd.service_dn}",
        f"    bind_password: {slapd.service_password}",
        f"    base_dn: {slapd.base_dn}",
        "    scope: sub",
        *[f"    {k}: {v}" for k, v in (ldap_extra or {}).items()],
        "    sync:",
        "      page_size: 200",
        f"      filter: \"{filter_}\"",
        *([f"      watch: {watch}"] if watch else []),
        *([f"      poll_interval: {poll_interval}"] if poll_interval else []),
        "    authentication:",
        f"      username_attribute: {username_attribute}",
        f"      username_filter_template: \"(&(objectClass=inetOrgPerson)({username_attribute}=%s))\"",
        "      timeout: 5",
    ]
    return "\n".join(lines) + "\n"


def cfg_text(server_url, app_id, secret, yaml_path=None, extra=""):
    text = f"# adc.cfg written by the test harness\nserver = {server_url}\napp_id = {app_id}\nsecret = {secret}\n"
    if yaml_path:
        text += f"yaml = {yaml_path}\n"
    return text + extra


class NotifyListener:
    """A datagram socket standing in for systemd's notify socket."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []
        self.cond = threading.Condition()
        self._stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                break
            with self.cond:
                self.messages.append(data.decode("utf-8", "replace"))
                self.cond.notify_all()

    def wait_for(self, needle, timeout=30, start=0):
        """Waits until a message (from index `start` on) contains the line `needle`; returns its
        index."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.messages)):
                    if needle in self.messages[i].split("\n"):
                        return i
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no sd_notify {needle!r} within {timeout} s; got {self.messages!r}")
                self.cond.wait(left)

    def close(self):
        self._stop = True
        self.thread.join(2)
        self.sock.close()


class Agent:
    """One `adc run`. yaml/cfg: text of the files (cfg_text/yaml_text)."""

    def __init__(self, cfg, yaml, args=(), env=None, notify=True):
        self.dir = tempfile.mkdtemp(prefix="adc-agent-")
        self.cfg_path = os.path.join(self.dir, "adc.cfg")
        # Live-change positions stay in the test's directory (the default is /var/lib/adc).
        self.state_dir = os.path.join(self.dir, "state")
        os.makedirs(self.state_dir)
        if "state_dir" not in cfg:
            cfg += f"state_dir = {self.state_dir}\n"
        self.yaml_path = os.path.join(self.dir, "adc.yaml")
        self.write_cfg(cfg)
        self.write_yaml(yaml)
        self.args = list(args)
        self.env = env or {}
        self.notify = NotifyListener(self.dir) if notify else None
        self.proc = None
        self.log_path = os.path.join(self.dir, "adc.log")

    def write_cfg(self, text):
        with open(self.cfg_path, "w") as f:
            f.write(text)
        os.chmod(self.cfg_path, 0o600)

    def write_yaml(self, text):
        with open(self.yaml_path, "w") as f:
            f.write(text)
        os.chmod(self.yaml_path, 0o600)

    def start(self):
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        env.pop("ADC_CFG", None)
        if self.notify:
            env["NOTIFY_SOCKET"] = self.notify.path
        env.update(self.env)
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([ADC, "-v", "-C", self.cfg_path, "run", *self.args],
                                     stdout=self._log, stderr=subprocess.STDOUT, env=env)
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_log(self, needle, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.log():
                return
            if self.proc.poll() is not None and needle not in self.log():
                break
            time.sleep(0.05)
        raise AssertionError(f"{needle!r} not in the log of adc run within {timeout} s:\n{self.log()}")

    def wait_notify(self, needle, timeout=30, start=0):
        return self.notify.wait_for(needle, timeout, start)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def hup(self):
        self.signal(signal.SIGHUP)

    def term(self):
        self.signal(signal.SIGTERM)

    def wait(self, timeout=60):
        return self.proc.wait(timeout)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        report = None
        if self.proc:
            self._log.close()
            log = self.log()
            # Under ASan/UBSan (scripts/test.sh) a report is a failure even when adc went on.
            if "ERROR: AddressSanitizer" in log or "ERROR: LeakSanitizer" in log or \
                    "runtime error:" in log:
                report = log[-6000:]
            self.proc = None
        if self.notify:
            self.notify.close()
            self.notify = None
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)
        if report:
            raise AssertionError("sanitizer report in the log of adc run:\n" + report)


def restart_server(srv, kill=False, down_seconds=0.0):
    """Stops a harness.server.AdcServer (SIGTERM, or SIGKILL with kill=True) and starts it again
    on the same database and the same port, as a service manager would after a crash or an
    upgrade; agents configured with its URL must find it again by themselves."""
    import subprocess as sp
    from .programs import ADC_SERVER
    port = srv.port
    if kill:
        srv.proc.kill()
        srv.proc.wait()
        srv.log.close()
        srv.proc = None
    else:
        srv.stop()
    time.sleep(down_seconds)
    before = srv.read_log().count("listening on")
    srv.log = open(srv.log_path, "a")
    srv.proc = sp.Popen([ADC_SERVER, "--db", srv.db, "-v", "serve", "--listen",
                         f"127.0.0.1:{port}", *srv.args],
                        stdout=sp.DEVNULL, stderr=srv.log)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if srv.read_log().count("listening on") > before:
            return srv
        if srv.proc.poll() is not None:
            raise RuntimeError("adc-server did not restart: " + srv.read_log()[-2000:])
        time.sleep(0.02)
    raise RuntimeError("adc-server did not restart in time")


class ForwardProxy:
    """A small HTTP forward proxy (absolute-URI requests, RFC 9112 section 3.2.2) on a free
    port, counting what passes through it: stands in for a company proxy between adc and the
    cloud."""

    def __init__(self, port=0):
        import http.client
        import http.server
        import urllib.parse
        outer = self
        self.requests = []
        self.connections = set()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                outer.connections.add(self.connection)

            def finish(self):
                outer.connections.discard(self.connection)
                super().finish()

            def _forward(self):
                u = urllib.parse.urlsplit(self.path)
                if u.scheme != "http" or not u.hostname:
                    self.send_error(400, "absolute http:// URI expected")
                    return
                outer.requests.append((self.command, u.path))
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("proxy-connection", "connection", "host")}
                c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
                try:
                    c.request(self.command, u.path + ("?" + u.query if u.query else ""), body,
                              headers)
                    r = c.getresponse()
                    data = r.read()
                except OSError as e:
                    self.send_error(502, str(e))
                    return
                finally:
                    c.close()
                try:
                    self.send_response(r.status)
                    for k, v in r.getheaders():
                        if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the agent went away (stopped) while its poll was forwarded

            do_GET = do_POST = do_PUT = do_DELETE = _forward

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        """Stops, cutting the connections in use too (as a network failure would)."""
        import socket as socket_mod
        self.httpd.shutdown()
        self.httpd.server_close()
        for c in list(self.connections):
            try:
                c.shutdown(socket_mod.SHUT_RDWR)
            except OSError:
                pass
