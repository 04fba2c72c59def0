#!/bin/sh
# Every C file we own is in the house style (.clang-format): prints the
# files clang-format would change and fails. Exit 77 (skipped) when
# clang-format is missing or not version 14 (Debian 12's): other versions
# lay the same settings out differently, so only one version is the judge.
# Fix with: git ls-files '*.c' '*.h' | grep -v '^third_party/' | xargs clang-format -i
root=${1:?usage: check_format.sh REPO_ROOT}
cd "$root" || exit 2
version=$(clang-format --version 2>/dev/null | sed -n 's/.*version \([0-9][0-9]*\)\..*/\1/p')
if [ "$version" != 14 ]; then
	echo "check_format: skipped: clang-format 14 is the judge, found '${version:-none}'"
	exit 77
fi
if git rev-parse --git-dir >/dev/null 2>&1; then
	files=$(git ls-files '*.c' '*.h')
else
	files=$(find . -name '*.[ch]' ! -path './build/*' | sed 's|^\./||')
fi
bad=0
for f in $(printf '%s\n' $files | grep -v '^third_party/'); do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		echo "check_format: $f is not in the house style (clang-format -i $f)"
		bad=1
	fi
done
[ "$bad" -eq 0 ] && echo "check_format: every C file is in the house style"
exit "$bad"
