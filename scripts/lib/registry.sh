# The service registry (proto/services.conf, plus tests/services.conf for
# test builds) read one way for every script: source this file, then
#
#   lines=$(registry_services [--tests]) || exit 1
#   while read -r name contract url_variable default_url db_url_variable database callers; do
#       ...
#   done <<<"$lines"
#
# Python and other languages run scripts/registry, which prints the same.
# The registry is found next to this file (scripts/lib/ → the checkout's
# root), or under REGISTRY_DIR, which holds proto/services.conf and
# tests/services.conf in the checkout's layout (the images copy both files
# to /opt/registry that way).

REGISTRY_DIR=${REGISTRY_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}

# registry_line_fault NAME CONTRACT URL_VARIABLE DEFAULT_URL DB_URL_VARIABLE
# DATABASE [CALLERS]: the first value whose shape the rules in proto/services.conf's
# header refuse, said on stdout; nothing when the line is well formed.
# tools/contract_gen.c applies the same shapes (and more: the default URL,
# collisions, reserved names), so a line this reader takes is one the build
# took.
registry_line_fault() {
	# Letters spelled out: a range such as [a-z] follows the locale's collation.
	local lower=abcdefghijklmnopqrstuvwxyz upper=ABCDEFGHIJKLMNOPQRSTUVWXYZ digits=0123456789
	local env="^[$upper][${upper}${digits}_]*\$" name="^[$lower][${lower}${digits}-]*\$"
	local database="^[${lower}_][${lower}${digits}_]*\$"
	[[ $1 =~ $name ]] ||
		{ echo "name '$1' is not lower-case letters, digits and '-' (a binary, a compose service)"; return; }
	[[ $2 == *.* ]] || { echo "contract '$2' is not package.Service"; return; }
	[[ $3 =~ $env ]] || { echo "url_variable '$3' is not an environment variable name (A-Z, 0-9, _)"; return; }
	[[ $5 == - || $5 =~ $env ]] ||
		{ echo "db_url_variable '$5' is not an environment variable name (A-Z, 0-9, _)"; return; }
	[[ $6 == - || $6 =~ $database ]] || { echo "database '$6' is not a lower-case SQL identifier"; return; }
	[[ ($5 == - && $6 != -) || ($5 != - && $6 == -) ]] &&
		{ echo "db_url_variable '$5' and database '$6': both are set or both are '-' (a service with a database names both)"; return; }
	[[ $5 == - || $5 == ?*_URL ]] ||
		{ echo "db_url_variable '$5' does not end in _URL (compose reads its password from <name>_PASSWORD)"; return; }
	[ "$1" != operator ] || { echo "name 'operator' is rpc-call's TLS role (its CA and certificate)"; return; }
	[ ${#1} -le 63 ] || { echo "name '$1' is ${#1} bytes, more than 63 (PostgreSQL cuts longer names)"; return; }
	[ ${#6} -le 63 ] || { echo "database '$6' is ${#6} bytes, more than 63 (PostgreSQL cuts longer names)"; return; }
	local role=${1//-/_}
	case $role in postgres | public | none | current_user | session_user | current_role | pg_*)
		echo "name '$1' gives the PostgreSQL role '$role', which PostgreSQL reserves or owns" ;;
	esac
	return 0
}

# registry_callers_fault NAME CALLERS KNOWN: what the rules refuse in the
# callers column of NAME's line (KNOWN: every service name of the files
# read, space-separated), said on stdout; nothing when it is well formed.
# The same messages as tools/contract_gen.c.
registry_callers_fault() {
	local name=$1 list=$2 known=" $3 " role seen=" "
	if [ "$list" = - ]; then
		echo "callers '-': no role could call $name (name them: gateway, operator or registry services, comma-separated)"
		return
	fi
	# Split by hand: read -a drops an empty last element ("gateway,").
	local rest=$list,
	while [ -n "$rest" ]; do
		role=${rest%%,*}
		rest=${rest#*,}
		if [ -z "$role" ]; then
			echo "callers '$list' has an empty element"
			return
		fi
		[ "$role" != "$name" ] || { echo "callers '$list': '$name' is the service itself"; return; }
		case "$role" in gateway | operator) ;; *)
			[[ $known == *" $role "* ]] ||
				{ echo "callers '$list': '$role' is not a role (gateway, operator or a registry service)"; return; } ;;
		esac
		[[ $seen != *" $role "* ]] || { echo "callers '$list': '$role' is listed twice"; return; }
		seen+="$role "
	done
}

# registry_services [--tests]: one line per service, its seven columns
# (name contract url_variable default_url db_url_variable database callers,
# "-" for none) separated by one space, in file order; comments and blank
# lines dropped. A line with a carriage return, another number of columns, a
# value of the wrong shape (registry_line_fault), a name seen twice, a
# callers list the rules refuse (registry_callers_fault; checked once every
# file is read, as a line may name a service declared after it) or an
# unreadable file: an error naming file:line on stderr, status 1; nothing
# on stdout then.
registry_services() {
	local files=("$REGISTRY_DIR/proto/services.conf") f line n fields fault seen=" " i
	local -a out=() where=()
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
			if [[ $line == *$'\r'* ]]; then
				echo "registry: $f:$n: has a carriage return (CRLF line ends?): save the file with LF line ends" >&2
				return 1
			fi
			read -ra fields <<<"${line%%#*}"
			[ ${#fields[@]} -ne 0 ] || continue
			if [ ${#fields[@]} -ne 7 ]; then
				echo "registry: $f:$n: ${#fields[@]} columns, 7 expected" \
					"(name contract url_variable default_url db_url_variable database callers)" >&2
				return 1
			fi
			fault=$(registry_line_fault "${fields[@]}")
			if [ -n "$fault" ]; then
				echo "registry: $f:$n: $fault" >&2
				return 1
			fi
			case $seen in *" ${fields[0]} "*)
				echo "registry: $f:$n: ${fields[0]} is declared twice" >&2
				return 1 ;;
			esac
			seen+="${fields[0]} "
			out+=("${fields[*]}")
			where+=("$f:$n")
		done <"$f"
	done
	for i in "${!out[@]}"; do
		read -ra fields <<<"${out[i]}"
		fault=$(registry_callers_fault "${fields[0]}" "${fields[6]}" "$seen")
		if [ -n "$fault" ]; then
			echo "registry: ${where[i]}: $fault" >&2
			return 1
		fi
	done
	[ ${#out[@]} -eq 0 ] || printf '%s\n' "${out[@]}"
}

# registry_callers NAME [--tests]: the roles that may call service NAME,
# one a line (its callers column); status 1 when NAME is not a service.
registry_callers() {
	local lines name callers
	lines=$(registry_services ${2:+"$2"}) || return 1
	while read -r name _ _ _ _ _ callers; do
		[ "$name" = "$1" ] && { tr , '\n' <<<"$callers"; return 0; }
	done <<<"$lines"
	echo "registry: no service '$1'" >&2
	return 1
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
