"""The command lines of adc and adc-server: help, version, usage errors (docs/product.md section 3)."""
import unittest

from harness.programs import adc, adc_server


class CommandLine(unittest.TestCase):
    def test_version(self):
        r = adc("version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^adc \d+\.\d+\.\d+\n$")

    def test_help_lists_every_command(self):
        r = adc("--help")
        self.assertEqual(r.returncode, 0)
        for cmd in ("imp", "run", "check", "users", "auth", "version"):
            self.assertIn(cmd, r.stdout)

    def test_no_command_is_usage_error(self):
        r = adc()
        self.assertEqual(r.returncode, 2)
        self.assertIn("no command", r.stderr)

    def test_unknown_command_is_usage_error(self):
        r = adc("frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", r.stderr)

    def test_unknown_option_is_usage_error(self):
        self.assertEqual(adc("--bogus", "check").returncode, 2)

    def test_server_help(self):
        r = adc_server("--help")
        self.assertEqual(r.returncode, 0)
        for cmd in ("init", "serve", "token create"):
            self.assertIn(cmd, r.stdout)


if __name__ == "__main__":
    unittest.main()
