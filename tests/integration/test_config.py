"""adc check on real files: every broken-config fixture gives exactly its expected
file:line:col messages and exit 3; good configs print "configuration OK"; adc.cfg is found by
the lookup order of docs/product.md section 2; secrets readable by others are warned about."""
import glob
import os
import shutil
import stat
import subprocess
import tempfile
import unittest

from harness.programs import ADC, DATA

ADC = os.path.abspath(ADC)

SOURCE_ROOT = os.environ.get("ADC_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
CONFIG = os.path.join(DATA, "config")
BAD = os.path.join(CONFIG, "bad")
GOOD = os.path.join(CONFIG, "good")
DIST_YAML = os.path.join(SOURCE_ROOT, "dist", "adc.yaml")
DIST_CFG = os.path.join(SOURCE_ROOT, "dist", "adc.cfg")

SERVICE_CFG = "server = https://cloud.example.com\napp_id = x\nsecret_file = secret.txt\n"


def adc(*args, cwd=None, env=None, binary=ADC, prefix=()):
    """Runs adc with $ADC_CFG removed unless given, so the machine's environment does not leak
    into the lookup order."""
    full = {k: v for k, v in os.environ.items() if k != "ADC_CFG"}
    full.update(env or {})
    # These tests are about the files: no directory or cloud behind them (--offline).
    args = [a for arg in args for a in ([arg, "--offline"] if arg == "check" else [arg])]
    return subprocess.run([*prefix, binary, *args], capture_output=True, text=True, cwd=cwd, env=full,
                          timeout=30)


def write(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def lines_of(path):
    with open(path) as f:
        return f.read()


MINIMAL_YAML = lines_of(os.path.join(GOOD, "minimal.yaml"))


class TempDir(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="adc-config-")
        self.addCleanup(shutil.rmtree, self.tmp)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)


class BrokenConfigs(TempDir):
    """Each tests/data/config/bad/NAME.err lists exactly what `adc check` prints for NAME.yaml
    (run with a valid adc.cfg) or NAME.cfg (run with a valid adc.yaml)."""

    def setUp(self):
        super().setUp()
        work = self.path("bad")
        shutil.copytree(BAD, work)
        write(os.path.join(work, "_service.cfg"), SERVICE_CFG)
        write(os.path.join(work, "_ok.yaml"), MINIMAL_YAML)
        # Git does not keep permissions: make every copy private so that no "readable by
        # others" warning depends on the umask of the checkout.
        for f in os.listdir(work):
            os.chmod(os.path.join(work, f), 0o600)
        self.work = work

    def test_there_are_enough_fixtures(self):
        self.assertGreaterEqual(len(glob.glob(os.path.join(BAD, "*.err"))), 15)

    def test_every_fixture_gives_its_expected_messages(self):
        cases = sorted(glob.glob(os.path.join(BAD, "*.err")))
        for err in cases:
            name = os.path.basename(err)[:-4]
            with self.subTest(fixture=name):
                if os.path.exists(os.path.join(BAD, name + ".yaml")):
                    args = ["-C", "_service.cfg", "-c", name + ".yaml", "check"]
                else:
                    self.assertTrue(os.path.exists(os.path.join(BAD, name + ".cfg")),
                                    f"{name}.err has neither {name}.yaml nor {name}.cfg")
                    args = ["-C", name + ".cfg", "-c", "_ok.yaml", "check"]
                r = adc(*args, cwd=self.work)
                self.assertEqual(r.returncode, 3, r.stderr)
                self.assertEqual(r.stdout, "")
                self.assertEqual(r.stderr, lines_of(err))
                self.assertNotIn("configuration OK", r.stdout)

    def test_every_fixture_has_an_expectation(self):
        for f in glob.glob(os.path.join(BAD, "*.yaml")) + glob.glob(os.path.join(BAD, "*.cfg")):
            with self.subTest(fixture=f):
                self.assertTrue(os.path.exists(f.rsplit(".", 1)[0] + ".err"))

    def test_all_problems_are_reported_at_once(self):
        r = adc("-C", "_service.cfg", "-c", "many-errors.yaml", "check", cwd=self.work)
        self.assertEqual(r.returncode, 3)
        errors = [l for l in r.stderr.splitlines() if ": error: " in l]
        self.assertGreaterEqual(len(errors), 8)
        # in file order, each with a position
        positions = [tuple(int(x) for x in l.split(":")[1:3]) for l in errors]
        self.assertEqual(positions, sorted(positions))

    def test_errors_in_both_files_are_reported_together(self):
        r = adc("-C", "cfg-server-url.cfg", "-c", "scope-invalid.yaml", "check", cwd=self.work)
        self.assertEqual(r.returncode, 3)
        self.assertIn("cfg-server-url.cfg:2:10: error: server must be", r.stderr)
        self.assertIn("scope-invalid.yaml:5:12: error: scope must be", r.stderr)

    def test_secrets_never_appear_in_messages(self):
        r = adc("-C", "cfg-secret-both.cfg", "-c", "password-both.yaml", "check", cwd=self.work)
        self.assertEqual(r.returncode, 3)
        self.assertNotIn("inline-token", r.stderr)
        self.assertNotIn("tok-123456", r.stderr)
        self.assertNotIn("reader-password", r.stderr)


class GoodConfigs(TempDir):
    def check_ok(self, *args, cwd=None):
        r = adc(*args, "check", cwd=cwd)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration OK\n", r.stdout)
        return r

    def test_documented_example(self):
        shutil.copy(DIST_YAML, self.path("adc.yaml"))
        os.chmod(self.path("adc.yaml"), 0o600)
        write(self.path("adc.cfg"), SERVICE_CFG)
        write(self.path("secret.txt"), "token\n")
        r = self.check_ok("-C", self.path("adc.cfg"))
        self.assertEqual(r.stderr, "")
        self.assertIn("adc.yaml: " + self.path("adc.yaml"), r.stdout)

    def test_dist_yaml_is_exactly_the_spec_example(self):
        # docs/product.md section 2 gives the documented example; dist/adc.yaml is that file.
        text = lines_of(os.path.join(SOURCE_ROOT, "docs", "product.md"))
        example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
        self.assertEqual(lines_of(DIST_YAML), example)

    def test_dist_cfg_parses(self):
        # dist/adc.cfg names /etc/adc/... paths; check it with its secret file beside it.
        text = lines_of(DIST_CFG)
        text = text.replace("/etc/adc/adc.secret", "secret.txt").replace("/etc/adc/adc.yaml",
                                                                          "adc.yaml")
        write(self.path("adc.cfg"), text)
        write(self.path("secret.txt"), "token\n")
        shutil.copy(DIST_YAML, self.path("adc.yaml"))
        os.chmod(self.path("adc.yaml"), 0o600)
        r = self.check_ok("-C", self.path("adc.cfg"))
        self.assertEqual(r.stderr, "")

    def test_man_page_example(self):
        page = lines_of(os.path.join(SOURCE_ROOT, "docs", "adc.yaml.5"))
        example = page.split("\n.SH EXAMPLE\n.nf\n", 1)[1].split("\n.fi\n", 1)[0] + "\n"
        self.assertIn("username_filter_template", example)
        example = example.replace("/etc/adc/", self.tmp + "/")
        write(self.path("adc.yaml"), example)
        write(self.path("ldap-ca.pem"), "ca\n")
        write(self.path("ldap.password"), "pw\n")
        r = self.check_ok("-c", self.path("adc.yaml"))
        self.assertEqual(r.stderr, "")

    def test_good_fixtures(self):
        work = self.path("good")
        shutil.copytree(GOOD, work)
        for f in os.listdir(work):
            os.chmod(os.path.join(work, f), 0o600)
        for y in ("minimal.yaml", "full.yaml", "anonymous.yaml"):
            with self.subTest(yaml=y):
                r = self.check_ok("-C", "service.cfg", "-c", y, cwd=work)
                self.assertEqual(r.stderr, "")
                self.assertIn("adc.cfg: service.cfg\n", r.stdout)
                self.assertIn("adc.yaml: " + y + "\n", r.stdout)

    def test_yaml_key_of_adc_cfg_is_relative_to_adc_cfg(self):
        work = self.path("good")
        shutil.copytree(GOOD, work)
        for f in os.listdir(work):
            os.chmod(os.path.join(work, f), 0o600)
        # service.cfg says yaml = full.yaml; run from elsewhere
        r = self.check_ok("-C", os.path.join(work, "service.cfg"), cwd="/")
        self.assertIn("adc.yaml: " + os.path.join(work, "full.yaml") + "\n", r.stdout)

    def test_yaml_alone_without_adc_cfg(self):
        if os.path.exists("/etc/adc/adc.cfg"):
            self.skipTest("/etc/adc/adc.cfg exists on this machine")
        write(self.path("adc.yaml"), MINIMAL_YAML)
        r = self.check_ok("-c", self.path("adc.yaml"))
        self.assertIn("adc.cfg: none found", r.stdout)


class MissingFiles(TempDir):
    def test_yaml_that_does_not_exist(self):
        write(self.path("adc.cfg"), SERVICE_CFG)
        write(self.path("secret.txt"), "token\n")
        r = adc("-C", self.path("adc.cfg"), "-c", "nope.yaml", "check", cwd=self.tmp)
        self.assertEqual(r.returncode, 3)
        self.assertEqual(r.stderr, "nope.yaml: error: cannot open: No such file or directory\n")

    def test_default_yaml_beside_adc_cfg_missing(self):
        write(self.path("adc.cfg"), SERVICE_CFG)
        write(self.path("secret.txt"), "token\n")
        r = adc("-C", self.path("adc.cfg"), "check")
        self.assertEqual(r.returncode, 3)
        self.assertIn(self.path("adc.yaml") + ": error: cannot open: No such file or directory",
                      r.stderr)
        self.assertIn("beside " + self.path("adc.cfg"), r.stderr)

    def test_adc_cfg_that_does_not_exist(self):
        r = adc("-C", self.path("missing.cfg"), "check")
        self.assertEqual(r.returncode, 3)
        self.assertIn(self.path("missing.cfg") + ": error: cannot open: No such file or directory",
                      r.stderr)

    def test_adc_cfg_env_that_does_not_exist(self):
        r = adc("check", env={"ADC_CFG": self.path("missing.cfg")})
        self.assertEqual(r.returncode, 3)
        self.assertIn(self.path("missing.cfg") + ": error: cannot open", r.stderr)
        self.assertIn("named by $ADC_CFG", r.stderr)

    def test_no_configuration_at_all(self):
        if os.path.exists("/etc/adc/adc.cfg"):
            self.skipTest("/etc/adc/adc.cfg exists on this machine")
        r = adc("check")
        self.assertEqual(r.returncode, 3)
        self.assertIn("no adc.yaml: name it with -c FILE", r.stderr)

    def test_directory_instead_of_file(self):
        write(self.path("adc.cfg"), SERVICE_CFG)
        write(self.path("secret.txt"), "token\n")
        r = adc("-C", self.path("adc.cfg"), "-c", self.tmp, "check")
        self.assertEqual(r.returncode, 3)
        self.assertIn(self.tmp + ": error: cannot read: Is a directory", r.stderr)

    def test_unreadable_file(self):
        write(self.path("adc.yaml"), MINIMAL_YAML, mode=0o000)
        if os.geteuid() == 0:
            # root reads every file (CI runs as root): adc runs as nobody instead, in a directory
            # nobody may enter but whose file it may not read.
            os.chmod(self.tmp, 0o755)
            r = adc("-c", self.path("adc.yaml"), "check",
                    prefix=["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        else:
            r = adc("-c", self.path("adc.yaml"), "check")
        self.assertEqual(r.returncode, 3)
        self.assertIn(self.path("adc.yaml") + ": error: cannot open: Permission denied", r.stderr)

    def test_extra_argument_is_usage_error(self):
        r = adc("-c", "x.yaml", "check", "extra")
        self.assertEqual(r.returncode, 2)


class LookupOrder(TempDir):
    """-C, then $ADC_CFG, then ../adc.cfg beside the binary, then /etc/adc/adc.cfg."""

    def make(self, subdir, yaml_name="adc.yaml"):
        d = self.path(subdir)
        os.makedirs(d, exist_ok=True)
        write(os.path.join(d, "adc.cfg"), SERVICE_CFG)
        write(os.path.join(d, "secret.txt"), "token\n")
        write(os.path.join(d, yaml_name), MINIMAL_YAML)
        return os.path.join(d, "adc.cfg")

    def used(self, r):
        self.assertEqual(r.returncode, 0, r.stderr)
        for line in r.stdout.splitlines():
            if line.startswith("adc.cfg: "):
                return line[len("adc.cfg: "):]
        self.fail("no adc.cfg line in " + r.stdout)

    def install_copy(self):
        """adc copied to TMP/inst/bin/adc with TMP/inst/adc.cfg, like /opt/.../ad-connect."""
        bindir = self.path("inst", "bin")
        os.makedirs(bindir)
        exe = os.path.join(bindir, "adc")
        shutil.copy(ADC, exe)
        os.chmod(exe, 0o755)
        return exe, self.make("inst")

    def test_dash_C(self):
        cfg = self.make("a")
        self.assertEqual(self.used(adc("-C", cfg, "check")), cfg)

    def test_env(self):
        cfg = self.make("a")
        self.assertEqual(self.used(adc("check", env={"ADC_CFG": cfg})), cfg)

    def test_dash_C_beats_env(self):
        a, b = self.make("a"), self.make("b")
        self.assertEqual(self.used(adc("-C", a, "check", env={"ADC_CFG": b})), a)

    def test_beside_the_binary(self):
        exe, cfg = self.install_copy()
        r = adc("check", binary=exe, cwd="/")
        self.assertEqual(os.path.realpath(self.used(r)), os.path.realpath(cfg))
        self.assertIn("adc.yaml: " + os.path.join(os.path.dirname(self.used(r)), "adc.yaml"),
                      r.stdout)

    def test_beside_the_binary_through_a_symlink(self):
        # /usr/local/bin/adc -> /opt/.../bin/adc still finds /opt/.../adc.cfg
        exe, cfg = self.install_copy()
        link = self.path("adc-link")
        os.symlink(exe, link)
        r = adc("check", binary=link, cwd="/")
        self.assertEqual(os.path.realpath(self.used(r)), os.path.realpath(cfg))

    def test_env_beats_beside_the_binary(self):
        exe, _ = self.install_copy()
        other = self.make("other")
        self.assertEqual(self.used(adc("check", binary=exe, env={"ADC_CFG": other})), other)

    def test_dash_c_beats_yaml_of_adc_cfg(self):
        cfg = self.make("a")
        y = self.path("elsewhere.yaml")
        write(y, MINIMAL_YAML)
        r = adc("-C", cfg, "-c", y, "check")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("adc.yaml: " + y + "\n", r.stdout)


class PermissionWarnings(TempDir):
    def test_inline_bind_password_readable_by_others(self):
        y = self.path("adc.yaml")
        shutil.copy(DIST_YAML, y)
        for mode, warned in ((0o644, True), (0o640, True), (0o604, True), (0o600, False),
                             (0o400, False)):
            with self.subTest(mode=oct(mode)):
                os.chmod(y, mode)
                r = adc("-c", y, "check")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("configuration OK", r.stdout)
                warning = (f"{y}: warning: contains bind_password and is readable by others; "
                           f"chmod 600 {y}\n")
                self.assertEqual(r.stderr, warning if warned else "")

    def test_no_warning_without_a_secret(self):
        y = self.path("adc.yaml")
        write(y, MINIMAL_YAML, mode=0o644)
        r = adc("-c", y, "check")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")

    def test_password_file_readable_by_others(self):
        y = self.path("adc.yaml")
        write(y, MINIMAL_YAML.replace(
            "    base_dn:", "    bind_dn: cn=r,dc=example,dc=com\n"
                           "    bind_password_file: bind.pw\n    base_dn:"), mode=0o644)
        write(self.path("bind.pw"), "pw\n", mode=0o644)
        r = adc("-c", y, "check")
        self.assertEqual(r.returncode, 0, r.stderr)
        pw = self.path("bind.pw")
        self.assertEqual(r.stderr, f"{y}: warning: bind_password_file '{pw}' is readable by "
                                   f"others; chmod 600 {pw}\n")
        os.chmod(pw, 0o600)
        self.assertEqual(adc("-c", y, "check").stderr, "")

    def test_inline_secret_in_adc_cfg(self):
        cfg = self.path("adc.cfg")
        write(self.path("adc.yaml"), MINIMAL_YAML)
        write(cfg, "server = https://cloud.example.com\napp_id = x\nsecret = token\n", mode=0o644)
        r = adc("-C", cfg, "check")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, f"{cfg}: warning: contains the secret and is readable by "
                                   f"others; chmod 600 {cfg}\n")
        self.assertNotIn("token", r.stderr)
        os.chmod(cfg, 0o600)
        self.assertEqual(adc("-C", cfg, "check").stderr, "")

    def test_secret_file_readable_by_others(self):
        cfg = self.path("adc.cfg")
        write(self.path("adc.yaml"), MINIMAL_YAML)
        write(cfg, SERVICE_CFG, mode=0o644)  # no secret inline: no warning for adc.cfg itself
        write(self.path("secret.txt"), "token\n", mode=0o644)
        r = adc("-C", cfg, "check")
        self.assertEqual(r.returncode, 0, r.stderr)
        s = self.path("secret.txt")
        self.assertEqual(r.stderr, f"{cfg}: warning: secret_file '{s}' is readable by others; "
                                   f"chmod 600 {s}\n")


if __name__ == "__main__":
    unittest.main()
