#!/usr/bin/env bash
# Runs integration tests with adc and adc-server under valgrind's memcheck (see
# _under_valgrind in tests/integration/harness/programs.py) and fails when valgrind reported
# anything: a memory error or a leak that is definitely lost, in any process of any test.
#   scripts/valgrind-tests.sh BUILD_DIR [test_module[.Class[.test]] ...]
# Without test names it runs the representative subset CI runs: SCIM and Bulk on the server,
# a first import and a re-sync, the agent's sign-in and sync, the password check, the faults.
set -uo pipefail
cd "$(dirname "$0")/.."
build=$(realpath "${1:-build}")
shift || true
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  # Tests that bound elapsed time (a 20,000-user import in 30 s, a hung directory noticed
  # within 4 s) are left out: under valgrind the programs run 10-50 times slower.
  tests=(test_server_scim test_server_bulk.Bulk.test_mixed_operations_and_bulk_ids
         test_server_bulk.Bulk.test_fail_on_errors test_server_bulk.Bulk.test_limits
         test_imp_sync test_agent.SignIn test_ldap_auth.PasswordCheck
         test_ldap_auth.DirectoryDown.test_down test_ldap_auth.Concurrent test_hostile_server)
fi
logs=$(mktemp -d /tmp/adc-valgrind-XXXXXX)
export ADC_VALGRIND=1 ADC_VALGRIND_LOGS=$logs
export ADC_BIN=$build/src/adc/adc ADC_SERVER_BIN=$build/src/server/adc-server
export ADC_AUTH_THREADS_BIN=$build/tests/integration/auth-threads
export ADC_SOURCE_ROOT=$PWD ADC_TEST_DATA=$PWD/tests/data PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH=$PWD/tests/integration
status=0
(cd tests/integration && python3 -m unittest "${tests[@]}") || status=1
found=0
for f in "$logs"/*.log; do
  [ -s "$f" ] || continue
  found=1
  echo "== valgrind: $f"
  cat "$f"
done
if [ $found -eq 1 ]; then
  echo "valgrind reported errors (logs in $logs)"
  status=1
else
  n=$(ls "$logs"/*.log 2>/dev/null | wc -l)
  echo "valgrind: $n processes, no errors and no definite leaks"
  rm -rf "$logs"
fi
exit $status
