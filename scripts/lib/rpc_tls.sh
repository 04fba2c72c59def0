# Mutual TLS on the RPC hop for the scripts that start binaries (scripts/server,
# scripts/servers, compose's healthcheck): source this file. The files are
# the development PKI's (scripts/lib/dev_pki.sh DIR); each binary gets its
# role's (docs: the TLS design in README's "Configuration").
#
# RPC_TLS=on (the default) or off: off is the only way to plain TCP.

# rpc_tls_enabled: status 0 when RPC_TLS is on (or unset), 1 when off; any
# other value is said on stderr and is status 2.
rpc_tls_enabled() {
	case "${RPC_TLS:-on}" in
	on) return 0 ;;
	off) return 1 ;;
	*) echo "RPC_TLS='$RPC_TLS': expected on or off (off: plain TCP between the binaries)" >&2; return 2 ;;
	esac
}

# rpc_tls_url URL: the same URL(s) over TLS: tcp://, tcp4://, tcp6:// become
# tls+tcp://, tls+tcp4://, tls+tcp6:// in each element of a comma list; a
# tls+ URL stays. Status 1, with a message, for a scheme TLS cannot carry
# (ipc://, inproc://: the hop has TLS over TCP only).
rpc_tls_url() {
	local out= u
	local -a parts
	IFS=, read -ra parts <<<"$1"
	for u in "${parts[@]}"; do
		case "$u" in
		tls+tcp://* | tls+tcp4://* | tls+tcp6://*) ;;
		tcp://* | tcp4://* | tcp6://*) u=tls+$u ;;
		*) echo "rpc_tls_url: '$u' cannot carry TLS (only tcp://, tcp4://, tcp6://)" >&2; return 1 ;;
		esac
		out+=${out:+,}$u
	done
	echo "$out"
}

# rpc_tls_role_env DIR ROLE: the settings of ROLE's binary, one NAME=VALUE a
# line: its certificate and key, the services' CAs, and for a service (one
# with DIR/callers/ROLE.pem) its callers' CAs. For `mapfile -t`, then
# `env "${settings[@]}" BINARY`.
rpc_tls_role_env() {
	echo "RPC_TLS_CERT=$1/$2.pem"
	echo "RPC_TLS_KEY=$1/$2.key"
	echo "RPC_TLS_CA=$1/services-ca.pem"
	[ ! -e "$1/callers/$2.pem" ] || echo "RPC_TLS_CALLER_CA=$1/callers/$2.pem"
}
