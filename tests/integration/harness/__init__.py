"""Test harness: starts real peers (slapd, adc-server, Samba AD) and runs the real programs."""
