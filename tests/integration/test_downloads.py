"""`adc-server serve --downloads DIR` (docs/adc-server.8, docs/product.md section 13): the files
of DIR at /downloads/NAME with a content type and length, nothing else (no listing, no "..",
no %-encoded tricks, no symbolic links, no NUL, no directories or FIFOs), and
GET /api/v1/downloads, the list with SHA-256 the console's install steps read (admins only).
The console's page itself is exercised in chromium by test_console_browser.py."""
import hashlib
import http.client
import os
import shutil
import socket
import subprocess
import tempfile
import unittest

from harness import programs
from harness.server import AdcServer

ARCHIVE = "ad-connect-9.8.7-linux-x86_64.tar.gz"


def raw_get(port, target, method="GET"):
    """Sends the request line exactly as given (no client-side normalisation of "..")."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                  .encode("latin-1"))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, head.decode("latin-1"), body


class Downloads(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="adc-downloads-test-")
        cls.dir = os.path.join(cls.tmp, "downloads")
        os.mkdir(cls.dir)
        # An archive of a realistic size (several MB, so that streaming and Content-Length
        # are exercised), and a .deb.
        cls.archive = os.urandom(3 * 1024 * 1024 + 17)
        with open(os.path.join(cls.dir, ARCHIVE), "wb") as f:
            f.write(cls.archive)
        with open(os.path.join(cls.dir, "adc_9.8.7_amd64.deb"), "wb") as f:
            f.write(b"!<arch>\n")
        # What must never be served: a secret beside the directory, links to it (absolute and
        # relative) and to a file inside, a hidden file, a subdirectory with a file, a FIFO.
        cls.secret = os.path.join(cls.tmp, "secret.txt")
        with open(cls.secret, "w") as f:
            f.write("top secret\n")
        os.symlink(cls.secret, os.path.join(cls.dir, "abs-link.txt"))
        os.symlink("../secret.txt", os.path.join(cls.dir, "rel-link.txt"))
        os.symlink(ARCHIVE, os.path.join(cls.dir, "inside-link.tar.gz"))
        with open(os.path.join(cls.dir, ".hidden"), "w") as f:
            f.write("hidden\n")
        os.mkdir(os.path.join(cls.dir, "sub"))
        with open(os.path.join(cls.dir, "sub", "file.txt"), "w") as f:
            f.write("in a subdirectory\n")
        os.mkfifo(os.path.join(cls.dir, "fifo.txt"))
        cls.srv = AdcServer(args=["--downloads", cls.dir]).start()
        cls.plain = AdcServer().start()  # without --downloads

    @classmethod
    def tearDownClass(cls):
        cls.srv.cleanup()
        cls.plain.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_archive_is_served_with_type_length_and_content(self):
        r = self.srv.request("GET", "/downloads/" + ARCHIVE)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.raw, self.archive)
        self.assertEqual(r.header("Content-Type"), "application/gzip")
        self.assertEqual(int(r.header("Content-Length")), len(self.archive))
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        self.assertIn(f'filename="{ARCHIVE}"', r.header("Content-Disposition"))
        r = self.srv.request("GET", "/downloads/adc_9.8.7_amd64.deb")
        self.assertEqual((r.status, r.header("Content-Type")),
                         (200, "application/vnd.debian.binary-package"))
        # HEAD: the headers, no body.
        status, head, body = raw_get(self.srv.port, "/downloads/" + ARCHIVE, "HEAD")
        self.assertEqual((status, body), (200, b""))
        self.assertIn(f"Content-Length: {len(self.archive)}", head)

    def test_other_methods_are_refused(self):
        for method in ["POST", "PUT", "DELETE"]:
            r = self.srv.request(method, "/downloads/" + ARCHIVE, raw=b"x")
            self.assertEqual(r.status, 405, method)
            self.assertEqual(r.header("Allow"), "GET, HEAD")
        self.assertEqual(os.path.getsize(os.path.join(self.dir, ARCHIVE)), len(self.archive))

    def test_no_listing(self):
        for target in ["/downloads", "/downloads/", "/downloads/.", "/downloads/sub",
                       "/downloads/sub/", "/downloads/sub/file.txt"]:
            status, _, body = raw_get(self.srv.port, target)
            self.assertEqual(status, 404, target)
            self.assertNotIn(ARCHIVE.encode(), body, target)

    def test_path_tricks_are_refused(self):
        secret = b"top secret"
        targets = [
            "/downloads/../secret.txt", "/downloads/..", "/downloads/../downloads/" + ARCHIVE,
            "/downloads/%2e%2e/secret.txt", "/downloads/%2E%2E%2Fsecret.txt",
            "/downloads/..%2fsecret.txt", "/downloads/%2e%2e%5csecret.txt",
            "/downloads/....//secret.txt", "/downloads//etc/passwd",
            "/downloads/%2fetc%2fpasswd", "/downloads/.hidden", "/downloads/%2ehidden",
            # Symbolic links: out of the directory (absolute, relative) and even inside it.
            "/downloads/abs-link.txt", "/downloads/rel-link.txt", "/downloads/inside-link.tar.gz",
            # NUL: decoded it would cut the name short to the archive's; it must not.
            "/downloads/" + ARCHIVE + "%00.txt", "/downloads/" + ARCHIVE + "%00",
            "/downloads/%00", "/downloads/secret.txt%00" + ARCHIVE,
            # Not a regular file: a FIFO (must not hang the server) and a directory.
            "/downloads/fifo.txt", "/downloads/sub", "/downloads/%73ub",
            # Names the server does not accept at all.
            "/downloads/a%20b", "/downloads/" + "a" * 200, "/downloads/%ff%fe",
        ]
        for target in targets:
            status, _, body = raw_get(self.srv.port, target)
            self.assertEqual(status, 404, target)
            self.assertNotIn(secret, body, target)
            self.assertLess(len(body), 100, target)
        # The server is still answering (the FIFO did not block a thread for good).
        self.assertEqual(self.srv.request("GET", "/api/v1/health").status, 200)
        # An escaped but plain name is the same file.
        status, _, body = raw_get(self.srv.port, "/downloads/" + ARCHIVE.replace(".tar", "%2etar"))
        self.assertEqual((status, len(body)), (200, len(self.archive)))

    def test_without_downloads_nothing_is_served(self):
        self.assertEqual(self.plain.request("GET", "/downloads/" + ARCHIVE).status, 404)
        r = self.plain.admin("GET", "/api/v1/downloads")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, {"enabled": False, "files": []})

    def test_api_lists_the_offered_files_with_sha256(self):
        self.assertEqual(self.srv.request("GET", "/api/v1/downloads").status, 401)
        r = self.srv.admin("GET", "/api/v1/downloads")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.body["enabled"])
        by_name = {f["name"]: f for f in r.body["files"]}
        # Only the regular files with plain names: no links, no hidden file, no FIFO, no
        # subdirectory.
        self.assertEqual(sorted(by_name), sorted(["adc_9.8.7_amd64.deb", ARCHIVE]))
        self.assertEqual([f["name"] for f in r.body["files"]], sorted(by_name))
        a = by_name[ARCHIVE]
        self.assertEqual(a["url"], "/downloads/" + ARCHIVE)
        self.assertEqual(a["size"], len(self.archive))
        self.assertEqual(a["sha256"], hashlib.sha256(self.archive).hexdigest())
        # The digest follows a replaced file (the cache is keyed by inode, size and time).
        path = os.path.join(self.dir, "adc_9.8.7_amd64.deb")
        tmp = path + ".new"
        with open(tmp, "wb") as f:
            f.write(b"!<arch>\nreplaced")
        os.rename(tmp, path)
        r = self.srv.admin("GET", "/api/v1/downloads")
        deb = [f for f in r.body["files"] if f["name"] == "adc_9.8.7_amd64.deb"][0]
        self.assertEqual(deb["sha256"], hashlib.sha256(b"!<arch>\nreplaced").hexdigest())

    def test_console_reads_the_list(self):
        # The console script asks the API and shows the archive's link and SHA-256 (rendered in
        # chromium by test_console_browser.py); here: it is served and uses the endpoint.
        js = self.srv.request("GET", "/console/app.js").raw.decode()
        self.assertIn("/api/v1/downloads", js)
        self.assertIn("adc-download-sha256", js)
        self.assertIn("sha256sum -c", js)

    def test_bad_directory_is_refused_at_start(self):
        db = os.path.join(self.tmp, "other.sqlite")
        programs.adc_server("--db", db, "init")
        for bad in [os.path.join(self.tmp, "missing"), self.secret]:
            r = subprocess.run([programs.ADC_SERVER, "--db", db, "serve", "--listen",
                                "127.0.0.1:0", "--downloads", bad], capture_output=True,
                               text=True, timeout=20)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("--downloads", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
