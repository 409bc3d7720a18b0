"""Running adc and adc-server as a user would, and checking what they print."""
import os
import subprocess

ADC = os.environ.get("ADC_BIN", "build/src/adc/adc")
ADC_SERVER = os.environ.get("ADC_SERVER_BIN", "build/src/server/adc-server")
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
