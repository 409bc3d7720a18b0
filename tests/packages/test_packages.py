"""The release as users get it (docs/product.md section 13), run by scripts/test-packages.sh
after scripts/release.sh:

- the .debs: lintian without errors; `apt-get install ./adc_*.deb ./adc-server_*.deb` in a
  fresh minimal Debian 12 pulls their dependencies; programs, man pages, units (checked by
  `systemd-analyze verify`), system users, /etc/adc not world-readable, adc-server's state
  directory and the archive it offers; an upgrade keeps an edited conffile and the
  permissions; purge removes /etc/adc and the agent's state, keeps the server's database.
- the archive: unpacked in fresh minimal Debian 12 and Debian 13 (nothing else installed),
  its bin/adc reads a real slapd on the host (`users`), over ldaps:// and to an HTTPS
  adc-server (`check`) with certificates verified against the system's CA store of that
  system (/etc/ssl/certs), and refused without it.
- the OCI image: layout, digests, sizes and media types; its configuration; its root file
  system's adc-server run in a chroot as the image's user: init, serve, the health check the
  README documents, the archive at /downloads/.

Environment: ADC_RELEASE_DIR (release.sh's output), ADC_BOOKWORM_TAR and ADC_TRIXIE_TAR
(mmdebstrap --variant=minbase tarballs), and the integration harness's (ADC_SERVER_BIN for the
host's adc-server). Needs root."""
import gzip
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import time
import unittest
import urllib.request

from harness import ldif
from harness.server import AdcServer
from harness.slapd import Slapd, free_port

RELEASE = os.environ["ADC_RELEASE_DIR"]
BOOKWORM = os.environ["ADC_BOOKWORM_TAR"]
TRIXIE = os.environ["ADC_TRIXIE_TAR"]
SOURCE_ROOT = os.environ.get("ADC_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
INSTALL_DIR = "/opt/exchange4all/ad-connect"
USERS = 40


def meson_version():
    with open(os.path.join(SOURCE_ROOT, "meson.build")) as f:
        return re.search(r"version:\s*'([^']+)'", f.read()).group(1)


VERSION = meson_version()
ARCHIVE = f"ad-connect-{VERSION}-linux-x86_64.tar.gz"
DEB_ADC = f"adc_{VERSION}_amd64.deb"
DEB_SERVER = f"adc-server_{VERSION}_amd64.deb"
IMAGE = f"adc-server-{VERSION}.oci.tar"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Chroot:
    """A fresh copy of a minimal Debian from an mmdebstrap tarball, in a temporary directory."""

    def __init__(self, tarball, network=False):
        self.root = tempfile.mkdtemp(prefix="adc-chroot-")
        subprocess.run(["tar", "-C", self.root, "-xf", tarball], check=True)
        self.mounted = []
        # /proc as on any running system: glibc finds $ORIGIN (bin/adc's run path to its
        # lib/) through /proc/self/exe.
        self.mount("proc", "proc", "-t", "proc")
        if network:
            shutil.copy("/etc/resolv.conf", os.path.join(self.root, "etc", "resolv.conf"))

    def mount(self, source, target, *opts):
        path = os.path.join(self.root, target)
        subprocess.run(["mount", *opts, source, path], check=True)
        self.mounted.append(path)

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def run(self, *argv, check=True, user=None, stdin=None, timeout=300, env=None):
        cmd = ["chroot"] + ([f"--userspec={user}"] if user else []) + [self.root, *argv]
        full_env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "LANG": "C.UTF-8", "HOME": "/root", "DEBIAN_FRONTEND": "noninteractive"}
        full_env.update(env or {})
        r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout,
                           env=full_env)
        if check and r.returncode != 0:
            raise AssertionError(f"{' '.join(argv)} in {self.root} exited {r.returncode}:\n"
                                 f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        return r

    def apt_install(self, *packages):
        self.run("apt-get", "update", "-qq")
        return self.run("apt-get", "install", "-y", "-qq", "-o", "Dpkg::Use-Pty=0",
                        "--no-install-recommends", *packages, timeout=600)

    def close(self):
        for path in reversed(self.mounted):
            subprocess.run(["umount", "-l", path], check=False)
        self.mounted = []
        if self.root:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None


class Lintian(unittest.TestCase):
    def test_no_errors(self):
        r = subprocess.run(["lintian", "--fail-on", "error", "--no-tag-display-limit",
                            os.path.join(RELEASE, DEB_ADC), os.path.join(RELEASE, DEB_SERVER)],
                           capture_output=True, text=True, timeout=300)
        print(r.stdout, end="")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotRegex(r.stdout, r"(?m)^E: ")


def repack_with_version(deb, version, directory):
    """The same package with another version: an upgrade to try."""
    tree = os.path.join(directory, "tree")
    subprocess.run(["dpkg-deb", "-R", deb, tree], check=True)
    control = os.path.join(tree, "DEBIAN", "control")
    with open(control) as f:
        text = f.read()
    with open(control, "w") as f:
        f.write(re.sub(r"(?m)^Version: .*$", f"Version: {version}", text))
    out = os.path.join(directory, os.path.basename(deb).replace(VERSION, version))
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", tree, out], check=True,
                   capture_output=True)
    shutil.rmtree(tree)
    return out


class Debs(unittest.TestCase):
    """Install, check, upgrade and purge, in this order, in one fresh Debian 12."""

    @classmethod
    def setUpClass(cls):
        cls.chroot = Chroot(BOOKWORM, network=True)
        for deb in [DEB_ADC, DEB_SERVER]:
            shutil.copy(os.path.join(RELEASE, deb), cls.chroot.path("/tmp/"))

    @classmethod
    def tearDownClass(cls):
        cls.chroot.close()

    def stat(self, path):
        st = os.lstat(self.chroot.path(path))
        owner = self.chroot.run("stat", "-c", "%U:%G", path).stdout.strip()
        return stat.S_IMODE(st.st_mode), owner

    def test_1_install(self):
        c = self.chroot
        # apt resolves the dependencies from Debian's archive (libcurl4, libldap, adduser...).
        c.apt_install(f"./tmp/{DEB_ADC}", f"./tmp/{DEB_SERVER}")
        self.assertEqual(c.run("adc", "version").stdout.strip(), f"adc {VERSION}")
        self.assertEqual(c.run("adc-server", "version").stdout.strip(), f"adc-server {VERSION}")
        for page in ["/usr/share/man/man8/adc.8.gz", "/usr/share/man/man5/adc.yaml.5.gz",
                     "/usr/share/man/man8/adc-server.8.gz"]:
            self.assertTrue(os.path.isfile(c.path(page)), page)
        # System users, and the configuration readable by root and the adc group only.
        c.run("id", "adc")
        c.run("id", "adc-server")
        self.assertEqual(self.stat("/etc/adc"), (0o750, "root:adc"))
        for f in ["/etc/adc/adc.cfg", "/etc/adc/adc.yaml"]:
            self.assertEqual(self.stat(f), (0o640, "root:adc"), f)
        conffiles = c.run("dpkg-query", "-W", "-f=${Conffiles}", "adc").stdout
        self.assertIn("/etc/adc/adc.cfg", conffiles)
        self.assertIn("/etc/adc/adc.yaml", conffiles)
        # The service user reads the example; `adc check` then fails on its content (the
        # example server and directory do not exist), not on permissions.
        r = c.run("adc", "-C", "/etc/adc/adc.cfg", "check", user="adc", check=False)
        self.assertNotIn("ermission denied", r.stderr)
        # The server's state directory, private to its user; init as that user.
        self.assertEqual(self.stat("/var/lib/adc-server"), (0o700, "adc-server:adc-server"))
        r = c.run("runuser", "-u", "adc-server", "--", "adc-server", "--db",
                  "/var/lib/adc-server/adc.db", "init")
        self.assertRegex(r.stdout.strip(), r"^\S{20,}$")
        # The archive the server offers, as released.
        offered = c.path(f"/usr/share/adc-server/downloads/{ARCHIVE}")
        self.assertEqual(sha256_file(offered), sha256_file(os.path.join(RELEASE, ARCHIVE)))
        # The units: Debian paths, the state directories, the archive offered.
        with open(c.path("/lib/systemd/system/adc.service")) as f:
            adc_unit = f.read()
        with open(c.path("/lib/systemd/system/adc-server.service")) as f:
            server_unit = f.read()
        self.assertIn("ExecStart=/usr/bin/adc -C /etc/adc/adc.cfg run", adc_unit)
        self.assertIn("StateDirectory=adc\n", adc_unit)
        self.assertIn("User=adc\n", adc_unit)
        self.assertRegex(server_unit, r"ExecStart=/usr/bin/adc-server --db "
                                      r"/var/lib/adc-server/adc.db serve .*--downloads "
                                      r"/usr/share/adc-server/downloads")
        self.assertIn("StateDirectory=adc-server\n", server_unit)
        self.assertIn("User=adc-server\n", server_unit)
        self.assertNotIn("/opt/", adc_unit + server_unit)
        # Not enabled before they are configured.
        self.assertFalse(os.path.exists(c.path(
            "/etc/systemd/system/multi-user.target.wants/adc.service")))
        # systemd-analyze verify needs systemd's own units (sysinit.target...): installed here
        # only for the check; the packages do not need it.
        c.apt_install("systemd")
        r = c.run("systemd-analyze", "verify", "--man=no", "adc.service", "adc-server.service",
                  check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stderr.strip(), "")

    def test_2_upgrade_keeps_configuration(self):
        c = self.chroot
        with open(c.path("/etc/adc/adc.cfg"), "a") as f:
            f.write("# edited by the administrator\n")
        work = tempfile.mkdtemp(prefix="adc-upgrade-")
        try:
            newer = f"{VERSION}+upgrade1"
            for deb in [DEB_ADC, DEB_SERVER]:
                shutil.copy(repack_with_version(os.path.join(RELEASE, deb), newer, work),
                            c.path("/tmp/"))
            c.run("apt-get", "install", "-y", "-qq", "-o", "Dpkg::Use-Pty=0",
                  "-o", "Dpkg::Options::=--force-confold",
                  f"./tmp/{DEB_ADC.replace(VERSION, newer)}",
                  f"./tmp/{DEB_SERVER.replace(VERSION, newer)}", timeout=600)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        versions = c.run("dpkg-query", "-W", "-f=${Version} ", "adc", "adc-server").stdout.split()
        self.assertEqual(versions, [newer, newer])
        with open(c.path("/etc/adc/adc.cfg")) as f:
            self.assertIn("# edited by the administrator", f.read())
        self.assertEqual(self.stat("/etc/adc/adc.cfg"), (0o640, "root:adc"))
        self.assertEqual(self.stat("/var/lib/adc-server"), (0o700, "adc-server:adc-server"))
        self.assertTrue(os.path.isfile(c.path("/var/lib/adc-server/adc.db")))
        c.run("adc", "version")

    def test_3_purge(self):
        c = self.chroot
        os.makedirs(c.path("/var/lib/adc"), exist_ok=True)
        with open(c.path("/var/lib/adc/state.json"), "w") as f:
            f.write("{}\n")
        c.run("apt-get", "purge", "-y", "-qq", "-o", "Dpkg::Use-Pty=0", "adc", "adc-server")
        for gone in ["/usr/bin/adc", "/usr/bin/adc-server", "/etc/adc", "/var/lib/adc",
                     "/lib/systemd/system/adc.service", "/usr/share/adc-server"]:
            self.assertFalse(os.path.lexists(c.path(gone)), gone)
        self.assertEqual(c.run("dpkg-statoverride", "--list", check=False).stdout.strip(), "")
        # The cloud's database is not a cache: purge keeps it.
        self.assertTrue(os.path.isfile(c.path("/var/lib/adc-server/adc.db")))
        r = c.run("dpkg-query", "-W", "adc", check=False)
        self.assertNotEqual(r.returncode, 0)


class Archive(unittest.TestCase):
    """The archive's bin/adc on fresh minimal Debian 12 and 13 (nothing installed on them)."""

    @classmethod
    def setUpClass(cls):
        cls.slapd = Slapd(ldif=ldif.generate(USERS, special=False), tls=True)
        cls.slapd.open()
        cls.server = AdcServer(tls=True).start()
        cfg = cls.server.create_sync_config("packages")
        cls.app_id, cls.secret = cfg["app_id"], cfg["secret"]

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()
        cls.slapd.close()

    def unpack(self, tarball):
        c = Chroot(tarball)
        self.addCleanup(c.close)
        os.makedirs(c.path(INSTALL_DIR))
        subprocess.run(["tar", "-xzf", os.path.join(RELEASE, ARCHIVE), "-C", c.path(INSTALL_DIR),
                        "--strip-components=1"], check=True)
        return c

    def configure(self, c, addr):
        yaml = c.path(f"{INSTALL_DIR}/adc.yaml")
        self.slapd.adc_yaml(yaml, addr=addr)
        with open(c.path(f"{INSTALL_DIR}/adc.cfg"), "w") as f:
            f.write(f"server = {self.server.url}\napp_id = {self.app_id}\n"
                    f"secret = {self.secret}\n")
        os.chmod(c.path(f"{INSTALL_DIR}/adc.cfg"), 0o600)

    def trust(self, c, *pems):
        """The system's CA store of the chroot, as Debian's ca-certificates would write it."""
        os.makedirs(c.path("/etc/ssl/certs"), exist_ok=True)
        with open(c.path("/etc/ssl/certs/ca-certificates.crt"), "w") as out:
            for pem in pems:
                with open(pem) as f:
                    out.write(f.read())

    def check_release(self, tarball, codename):
        c = self.unpack(tarball)
        with open(c.path("/etc/os-release")) as f:
            self.assertIn(f"VERSION_CODENAME={codename}", f.read())
        adc = f"{INSTALL_DIR}/bin/adc"
        self.assertEqual(c.run(adc, "version").stdout.strip(), f"adc {VERSION}")
        # Every library but glibc's comes from lib/ (ldd of the system: nothing "not found").
        ldd = c.run("ldd", adc).stdout
        self.assertNotIn("not found", ldd)
        for line in ldd.splitlines():
            m = re.match(r"\s*(\S+) => (\S+)", line)
            if m and not re.match(r"(libc|libm|libpthread|libdl|librt|libresolv)\.so", m.group(1)):
                self.assertTrue(m.group(2).startswith(f"{INSTALL_DIR}/bin/../lib/"), line)

        # Plain LDAP: the users of the directory, found by adc.cfg beside bin/.
        self.configure(c, self.slapd.url)
        r = c.run(adc, "users", "--json")
        self.assertEqual(len(json.loads(r.stdout)["users"]), USERS)

        # TLS, verified against the system's store: without it both connections fail...
        self.configure(c, self.slapd.ldaps_url)
        r = c.run(adc, "users", "--json", check=False)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        r = c.run(adc, "check", check=False)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        self.assertRegex(r.stdout + r.stderr, r"(?i)certificate|tls|ssl")
        # ...with the CAs in /etc/ssl/certs/ca-certificates.crt both succeed.
        self.trust(c, self.slapd.ca_file, self.server.cert)
        r = c.run(adc, "users", "--json")
        self.assertEqual(len(json.loads(r.stdout)["users"]), USERS)
        r = c.run(adc, "check")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_bookworm(self):
        self.check_release(BOOKWORM, "bookworm")

    def test_trixie(self):
        self.check_release(TRIXIE, "trixie")

    def test_contents(self):
        with tarfile.open(os.path.join(RELEASE, ARCHIVE)) as t:
            names = set(t.getnames())
            top = f"ad-connect-{VERSION}"
            for member in ["bin/adc", "adc.yaml", "adc.cfg", "README", "adc.service",
                           "man/man8/adc.8", "man/man5/adc.yaml.5"]:
                self.assertIn(f"{top}/{member}", names)
            self.assertTrue(any(n.startswith(f"{top}/lib/libcurl.so") for n in names))
            for glibc in ["libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "libpthread.so.0"]:
                self.assertNotIn(f"{top}/lib/{glibc}", names)
            readme = t.extractfile(f"{top}/README").read().decode()
            cfg = t.extractfile(f"{top}/adc.cfg").read().decode()
            self.assertEqual(t.getmember(f"{top}/adc.cfg").mode & 0o077, 0)
        self.assertIn(INSTALL_DIR, readme)
        self.assertIn("$ORIGIN/../lib", readme)
        self.assertIn("adc.service", readme)
        self.assertIn(f"yaml = {INSTALL_DIR}/adc.yaml", cfg)


def read_blob(layout, digest):
    algo, hexd = digest.split(":", 1)
    with open(os.path.join(layout, "blobs", algo, hexd), "rb") as f:
        return f.read()


class Image(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="adc-oci-test-")
        cls.layout = os.path.join(cls.dir, "layout")
        with tarfile.open(os.path.join(RELEASE, IMAGE)) as t:
            t.extractall(cls.layout)
        with open(os.path.join(cls.layout, "index.json")) as f:
            cls.index = json.load(f)
        cls.manifest_desc = cls.index["manifests"][0]
        cls.manifest = json.loads(read_blob(cls.layout, cls.manifest_desc["digest"]))
        cls.config = json.loads(read_blob(cls.layout, cls.manifest["config"]["digest"]))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_layout_digests_sizes_media_types(self):
        with open(os.path.join(self.layout, "oci-layout")) as f:
            self.assertEqual(json.load(f), {"imageLayoutVersion": "1.0.0"})
        self.assertEqual(self.index["schemaVersion"], 2)
        self.assertEqual(len(self.index["manifests"]), 1)
        m = self.manifest_desc
        self.assertEqual(m["mediaType"], "application/vnd.oci.image.manifest.v1+json")
        self.assertEqual(m["annotations"]["org.opencontainers.image.ref.name"], VERSION)
        # Every blob is named by its digest, and every descriptor's size is the blob's.
        blobs = os.path.join(self.layout, "blobs", "sha256")
        for name in os.listdir(blobs):
            self.assertEqual(sha256_file(os.path.join(blobs, name)), name)
        descriptors = [m, self.manifest["config"], *self.manifest["layers"]]
        self.assertEqual(len(os.listdir(blobs)), len(descriptors))
        for d in descriptors:
            self.assertEqual(len(read_blob(self.layout, d["digest"])), d["size"], d)
        self.assertEqual(self.manifest["schemaVersion"], 2)
        self.assertEqual(self.manifest["mediaType"], m["mediaType"])
        self.assertEqual(self.manifest["config"]["mediaType"],
                         "application/vnd.oci.image.config.v1+json")
        self.assertEqual([l["mediaType"] for l in self.manifest["layers"]],
                         ["application/vnd.oci.image.layer.v1.tar+gzip"])
        # diff_ids are the digests of the uncompressed layers.
        diff_ids = ["sha256:" + hashlib.sha256(gzip.decompress(
            read_blob(self.layout, l["digest"]))).hexdigest() for l in self.manifest["layers"]]
        self.assertEqual(self.config["rootfs"], {"type": "layers", "diff_ids": diff_ids})

    def test_config(self):
        c = self.config
        self.assertEqual((c["os"], c["architecture"]), ("linux", "amd64"))
        cfg = c["config"]
        uid, gid = cfg["User"].split(":")
        self.assertNotEqual(int(uid), 0)
        self.assertNotEqual(int(gid), 0)
        self.assertEqual(cfg["ExposedPorts"], {"8080/tcp": {}})
        self.assertEqual(cfg["Volumes"], {"/var/lib/adc-server": {}})
        self.assertEqual(cfg["Entrypoint"], ["/usr/bin/adc-server", "serve"])
        self.assertIn("ADC_SERVER_DB=/var/lib/adc-server/adc.db", cfg["Env"])
        self.assertIn("/api/v1/health", cfg["Labels"]["org.exchange4all.healthcheck"])

    def test_root_file_system_runs_adc_server(self):
        root = os.path.join(self.dir, "rootfs")
        os.mkdir(root)
        for layer in self.manifest["layers"]:
            path = os.path.join(self.layout, "blobs", *layer["digest"].split(":", 1))
            subprocess.run(["tar", "--numeric-owner", "-xzf", path, "-C", root], check=True)
        cfg = self.config["config"]
        user = cfg["User"]
        env = dict(e.split("=", 1) for e in cfg["Env"])
        chroot = ["chroot", f"--userspec={user}", root]
        # The volume belongs to the image's user; the database is made there.
        st = os.stat(os.path.join(root, "var/lib/adc-server"))
        self.assertEqual(f"{st.st_uid}:{st.st_gid}", user)
        r = subprocess.run(chroot + ["/usr/bin/adc-server", "init"], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        token = r.stdout.strip()
        port = free_port()
        argv = cfg["Entrypoint"] + [("127.0.0.1:%d" % port) if a == "0.0.0.0:8080" else a
                                    for a in cfg["Cmd"]]
        log = open(os.path.join(self.dir, "serve.log"), "w+")
        proc = subprocess.Popen(chroot + argv, env=env, stdout=log, stderr=log,
                                cwd="/")
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.time() + 20
            while True:
                try:
                    with urllib.request.urlopen(base + "/api/v1/health", timeout=5) as resp:
                        health = json.load(resp)
                    break
                except OSError:
                    if time.time() > deadline or proc.poll() is not None:
                        log.seek(0)
                        self.fail("adc-server in the image did not answer: " + log.read())
                    time.sleep(0.2)
            self.assertEqual(health, {"status": "ok", "version": VERSION})
            # The documented health check, with bash alone, inside the image.
            check = cfg["Labels"]["org.exchange4all.healthcheck"].replace("8080", str(port))
            r = subprocess.run(chroot + ["/bin/sh", "-c", check], env=env, timeout=30)
            self.assertEqual(r.returncode, 0)
            # The archive, offered by the image's server.
            req = urllib.request.Request(base + "/api/v1/downloads",
                                         headers={"Authorization": "Bearer " + token})
            with urllib.request.urlopen(req, timeout=10) as resp:
                files = json.load(resp)["files"]
            self.assertEqual([(f["name"], f["sha256"]) for f in files],
                             [(ARCHIVE, sha256_file(os.path.join(RELEASE, ARCHIVE)))])
            with urllib.request.urlopen(base + "/downloads/" + ARCHIVE, timeout=30) as resp:
                self.assertEqual(hashlib.sha256(resp.read()).hexdigest(), files[0]["sha256"])
        finally:
            proc.terminate()
            self.assertEqual(proc.wait(timeout=20), 0)
            log.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
