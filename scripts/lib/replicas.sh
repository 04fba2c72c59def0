# Replicas of a registry service, for the scripts that start binaries
# (scripts/server): source this file. How many run is a setting named after
# the service's url_variable (USER_SVC_URL → USER_SVC_REPLICAS, default 1);
# the first listens where that URL says, the others on its port + 10, + 20...
# (5001, 5011, 5021: the registry's defaults are 5001, 5002, 5003..., so the
# replicas of up to ten services never meet); a list in the url_variable is
# a replica per URL. Callers get every replica in
# the url_variable, as a comma-separated list (a caller's REQ socket dials
# each and spreads its requests over them); each replica listens on its own
# RPC_LISTEN_URL.

REPLICAS_MAX=10 # a port step of 10: an eleventh would take the next service's

# replica_count_variable URL_VARIABLE: the setting of how many replicas run
# (USER_SVC_URL → USER_SVC_REPLICAS).
replica_count_variable() {
	echo "${1%_URL}_REPLICAS"
}

# replica_urls COUNT_VARIABLE COUNT URL_VARIABLE URL: the URL each of COUNT
# replicas listens on, one a line, the first being URL. COUNT must be
# 1..REPLICAS_MAX; with more than one, URL must be one tcp:// URL (any of
# tcp, tcp4, tcp6, with or without tls+) with a port, since the others are
# derived from it. Otherwise status 1 and a message on stderr naming the
# variable at fault.
replica_urls() {
	local count_var=$1 count=$2 url_var=$3 url=$4
	if ! [[ $count =~ ^[0-9]+$ ]] || ((10#$count < 1 || 10#$count > REPLICAS_MAX)); then
		echo "$count_var='$count': expected a number of replicas from 1 to $REPLICAS_MAX" >&2
		return 1
	fi
	count=$((10#$count))
	if [ "$count" = 1 ]; then
		# A list is one replica per URL (USER_SVC_URL=tcp://127.0.0.1:5001,
		# tcp://127.0.0.1:5011 scripts/server), each listening on its own.
		tr ',' '\n' <<<"$url"
		return 0
	fi
	local scheme=${url%%://*} rest=${url#*://}
	case "$url" in
	*,*)
		echo "$count_var=$count: $url_var must be one URL (the first replica's; the others listen on its port + 10, + 20...), not the list '$url'" >&2
		return 1
		;;
	tcp://* | tcp4://* | tcp6://* | tls+tcp://* | tls+tcp4://* | tls+tcp6://*) ;;
	*)
		echo "$count_var=$count: $url_var='$url' is not a tcp:// URL (replicas on one machine differ by port)" >&2
		return 1
		;;
	esac
	local host=${rest%:*} port=${rest##*:}
	if [ "$host" = "$rest" ] || ! [[ $port =~ ^[0-9]+$ ]] || ((10#$port + (count - 1) * 10 > 65535)); then
		echo "$count_var=$count: $url_var='$url' needs a port, and room for $count replicas 10 ports apart below 65536" >&2
		return 1
	fi
	local i
	for ((i = 0; i < count; i++)); do
		echo "$scheme://$host:$((10#$port + i * 10))"
	done
}
