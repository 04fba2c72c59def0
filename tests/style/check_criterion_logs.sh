#!/bin/sh
# No test logs through cr_log_warn or cr_log_error: Criterion 2.4.1 (Debian
# 12's and 13's) makes the runner exit 1 after either, even when every test
# passed ("Synthesis: Tested: 1 | Passing: 1 | Failing: 0", exit 1: how
# e2e_callers failed two CI runs, when a call needed a retry). Log with
# cr_log_info; fail with an assertion.
root=${1:?usage: check_criterion_logs.sh REPO_ROOT}
cd "$root" || exit 2
found=$(grep -rn --include='*.c' -E 'cr_log_(warn|error)[[:space:]]*\(' tests | grep -v '^tests/style/')
if [ -n "$found" ]; then
	printf '%s\n' "$found" | sed 's/^/check_criterion_logs: /'
	echo "check_criterion_logs: use cr_log_info (cr_log_warn and cr_log_error make Criterion 2.4.1 exit 1)"
	exit 1
fi
echo "check_criterion_logs: no test logs a warning or an error through Criterion"
