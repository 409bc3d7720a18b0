"""Running adc and adc-server as a user would, and checking what they print."""
import os
import subprocess

ADC = os.environ.get("ADC_BIN", "build/src/adc/adc")
ADC_SERVER = os.environ.get("ADC_SERVER_BIN", "build/src/server/adc-server")


SUPPRESSIONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "valgrind.supp")


def _under_valgrind(binary):
    """With $ADC_VALGRIND set, every test runs the program under valgrind's memcheck: a wrapper
    script takes the binary's place (so tests that build argv from ADC/ADC_SERVER need no
    change). Errors, and leaks that are definitely lost, go to one log per process in
    $ADC_VALGRIND_LOGS (a new directory if unset) and make the exit status 99;
    scripts/valgrind-tests.sh fails when any log is not empty (servers stopped by a signal
    have no exit status to check)."""
    import tempfile
    logs = os.environ.setdefault("ADC_VALGRIND_LOGS", tempfile.mkdtemp(prefix="adc-valgrind-"))
    os.makedirs(logs, exist_ok=True)
    wrappers = os.path.join(logs, "bin")
    os.makedirs(wrappers, exist_ok=True)
    real = os.path.abspath(binary)
    name = os.path.basename(real)
    path = os.path.join(wrappers, name)
    with open(path + ".tmp", "w") as f:
        f.write("#!/bin/sh\n"
                "exec valgrind -q --error-exitcode=99 --leak-check=full "
                "--errors-for-leak-kinds=definite --show-leak-kinds=definite "
                f"--suppressions='{SUPPRESSIONS}' "
                f"--log-file='{logs}/{name}.%p.log' '{real}' \"$@\"\n")
    os.chmod(path + ".tmp", 0o755)
    os.replace(path + ".tmp", path)
    return path


if os.environ.get("ADC_VALGRIND"):
    ADC = _under_valgrind(ADC)
    ADC_SERVER = _under_valgrind(ADC_SERVER)
DATA = os.environ.get("ADC_TEST_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "data"))


def run(argv, stdin=None, timeout=120, env=None):
    """Runs a program; returns CompletedProcess with text stdout/stderr."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    return subprocess.run(argv, input=stdin, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def adc(*args, **kw):
    return run([ADC, *args], **kw)


def adc_server(*args, **kw):
    return run([ADC_SERVER, *args], **kw)
