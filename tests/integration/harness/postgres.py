"""A real PostgreSQL cluster in a temporary directory, for adc-server's second store engine.

    pg = Postgres.shared()          # one cluster per test process, started on first use
    uri = pg.new_database()         # a fresh, empty database: postgresql://adc@127.0.0.1:PORT/adc_N
    pg.restart(); pg.stop(); pg.start()

Debian's server binaries (/usr/lib/postgresql/<version>/bin). initdb and the server run as the
`postgres` user (`runuser -u postgres`: PostgreSQL refuses to run as root), in a temporary
directory owned by it; the server listens on 127.0.0.1 only, on a free port, with trust
authentication for local TCP (the cluster lives only as long as the test process). Everything
is removed on exit, whatever happened.

ADC_TEST_DB=postgresql makes AdcServer (harness/server.py) use a fresh database of the shared
cluster instead of a SQLite file.
"""
import atexit
import glob
import os
import shutil
import subprocess
import tempfile
import threading
import time

from .slapd import free_port, _install_sigterm, _live

_BIN = None


def bin_dir():
    """The newest installed PostgreSQL's server binaries, or None."""
    global _BIN
    if _BIN is None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                       key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
        _BIN = os.path.dirname(found[-1]) if found else ""
    return _BIN or None


def wanted():
    """True when the tests should run adc-server on PostgreSQL (ADC_TEST_DB=postgresql)."""
    return os.environ.get("ADC_TEST_DB", "sqlite").lower() in ("postgresql", "postgres", "pg")


def _as_postgres(argv, timeout=120, check=True):
    r = subprocess.run(["runuser", "-u", "postgres", "--"] + argv, capture_output=True,
                       text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), r.returncode,
                                                    (r.stderr or r.stdout).strip()))
    return r


class Postgres:
    _shared = None
    _lock = threading.Lock()

    @classmethod
    def shared(cls, crash_safe=False):
        """crash_safe: fsync on (the benchmark: comparable with SQLite's WAL, which survives
        a crash); tests run without fsync."""
        with cls._lock:
            if cls._shared is None:
                pg = cls(crash_safe)
                try:
                    pg.open()
                except BaseException:
                    pg.close()
                    raise
                cls._shared = pg
            return cls._shared

    def __init__(self, crash_safe=False):
        self.crash_safe = crash_safe
        self.dir = None
        self.port = None
        self.n_databases = 0
        self.running = False

    def open(self):
        b = bin_dir()
        if not b:
            raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
        self.bin = b
        _install_sigterm()
        _live.add(self)
        self.dir = tempfile.mkdtemp(prefix="adc-pg-")
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, "data")
        os.mkdir(self.data, 0o700)
        shutil.chown(self.data, "postgres", "postgres")
        self.sockets = os.path.join(self.dir, "run")
        os.mkdir(self.sockets, 0o755)
        shutil.chown(self.sockets, "postgres", "postgres")
        self.log_path = os.path.join(self.dir, "postgres.log")
        open(self.log_path, "w").close()
        shutil.chown(self.log_path, "postgres", "postgres")
        _as_postgres([os.path.join(b, "initdb"), "-D", self.data, "-U", "postgres",
                      "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"])
        self.port = free_port()
        with open(os.path.join(self.data, "postgresql.auto.conf"), "a") as f:
            # Sockets in the test directory, enough connections for several adc-server
            # instances (8 pooled connections each plus a listener). synchronous_commit=off
            # loses at most the last commits on a crash, never consistency, like SQLite's
            # synchronous=NORMAL in WAL mode; tests also skip fsync altogether.
            f.write("listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n"
                    "synchronous_commit = off\nmax_connections = 200\nshared_buffers = 128MB\n"
                    % (self.port, self.sockets))
            if not self.crash_safe:
                f.write("fsync = off\nfull_page_writes = off\n")
        self.start()
        self._psql("postgres", "CREATE ROLE adc LOGIN")

    def start(self):
        r = _as_postgres([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", self.log_path,
                          "-w", "-t", "60", "start"], check=False)
        if r.returncode != 0:
            with open(self.log_path) as f:
                raise RuntimeError("PostgreSQL did not start: %s" % f.read()[-2000:])
        self.running = True

    def stop(self, mode="fast"):
        if self.running:
            _as_postgres([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", mode, "-w",
                          "stop"], check=False)
        self.running = False

    def restart(self):
        self.stop()
        self.start()

    def _psql(self, db, sql):
        return _as_postgres(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                             "-d", db, "-v", "ON_ERROR_STOP=1", "-qAtc", sql])

    def query(self, db, sql):
        """Runs sql as the superuser in database db; returns the output lines."""
        return self._psql(db, sql).stdout.splitlines()

    def dump(self, uri):
        """The contents of the database of uri (plain SQL from pg_dump), as bytes."""
        name = uri.rsplit("/", 1)[1]
        r = subprocess.run(["runuser", "-u", "postgres", "--", "pg_dump", "-h", "127.0.0.1",
                            "-p", str(self.port), "-U", "postgres", name],
                           capture_output=True, timeout=120, check=True)
        return r.stdout

    def new_database(self):
        """Creates an empty database owned by the role adc; returns its URI."""
        self.n_databases += 1
        name = "adc_%d_%d" % (os.getpid(), self.n_databases)
        self._psql("postgres", "CREATE DATABASE %s OWNER adc" % name)
        return "postgresql://adc@127.0.0.1:%d/%s" % (self.port, name)

    def close(self):
        _live.discard(self)
        if self.dir:
            self.stop(mode="immediate")
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        if Postgres._shared is self:
            Postgres._shared = None


atexit.register(lambda: Postgres._shared and Postgres._shared.close())
