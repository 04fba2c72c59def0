# The service registry (proto/services.conf, plus tests/services.conf for
# test builds) read one way for every script: source this file, then
#
#   lines=$(registry_services [--tests]) || exit 1
#   while read -r name contract url_variable default_url db_url_variable database; do
#       ...
#   done <<<"$lines"
#
# Python and other languages run scripts/registry, which prints the same.
# The registry is found next to this file (scripts/lib/ → the checkout's
# root), or under REGISTRY_DIR, which holds proto/services.conf and
# tests/services.conf in the checkout's layout (the images copy both files
# to /opt/registry that way).

REGISTRY_DIR=${REGISTRY_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

# registry_services [--tests]: one line per service, its six columns
# (name contract url_variable default_url db_url_variable database, "-" for
# none) separated by one space, in file order; comments and blank lines
# dropped. A line with another number of columns, a name seen twice or an
# unreadable file: an error naming file:line on stderr, status 1.
registry_services() {
	local files=("$REGISTRY_DIR/proto/services.conf") f line n fields seen=" "
	case "${1:-}" in
	--tests) files+=("$REGISTRY_DIR/tests/services.conf") ;;
	"") ;;
	*) echo "registry: unknown option '$1' (only --tests)" >&2; return 2 ;;
	esac
	for f in "${files[@]}"; do
		[ -r "$f" ] || { echo "registry: cannot read $f" >&2; return 1; }
		n=0
		while IFS= read -r line || [ -n "$line" ]; do
			n=$((n + 1))
			read -ra fields <<<"${line%%#*}"
			[ ${#fields[@]} -ne 0 ] || continue
			if [ ${#fields[@]} -ne 6 ]; then
				echo "registry: $f:$n: ${#fields[@]} columns, 6 expected" \
					"(name contract url_variable default_url db_url_variable database)" >&2
				return 1
			fi
			case $seen in *" ${fields[0]} "*)
				echo "registry: $f:$n: ${fields[0]} is declared twice" >&2
				return 1 ;;
			esac
			seen+="${fields[0]} "
			echo "${fields[*]}"
		done <"$f"
	done
}

# registry_role NAME: the PostgreSQL role of a service (user-svc → user_svc).
registry_role() {
	echo "${1//-/_}"
}

# registry_password_variable DB_URL_VARIABLE: where compose's passwords
# come from (USER_DB_URL → USER_DB_PASSWORD).
registry_password_variable() {
	echo "${1%_URL}_PASSWORD"
}
