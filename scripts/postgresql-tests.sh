#!/bin/sh
# The integration tests (meson test names) that CI runs a second time with adc-server on
# PostgreSQL (scripts/test.sh): every test of adc-server itself, and those where adc and
# adc-server work together. About 4 minutes on two cores.
echo server_admin server_scim server_settings server_bulk server_conformance server_robustness \
  server_readme server_trust server_groups server_postgresql console agent imp_sync imp_groups live_sync \
  hardening
