/* Attack probe for svc/db.c (issue 20): one db handle, a deadline per
 * call, reports how long each call took against its deadline.
 * usage: db_probe URL DEADLINE_MS REPEAT SQL [PARAM]
 *   DEADLINE_MS 0 = none. SQL run through db_exec (with a parameter when
 *   PARAM is given, so prepared). Prints one line per call.
 * build (after build/test): gcc -std=c11 -D_GNU_SOURCE -g -Ilib -I. -I/usr/include/postgresql
 *   tests/attack/db_probe.c build/test/svc/libsvc.a build/test/lib/librpc.a build/test/lib/libbase.a
 *   build/test/proto/libcontracts.a build/test/lib/librpc.a -lprotobuf-c -lnng -lpq -lutf8proc -lpthread -lanl
 *   -o /tmp/db_probe */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdint.h>
#include "base/log.h"
int64_t rpc_clock_ms(void); /* rpc/envelope.h, without its protobuf header */
#include "svc/db.h"

int
main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: db_probe URL DEADLINE_MS REPEAT SQL [PARAM]\n");
		return 2;
	}
	db *d = db_new(argv[1]);
	if (d == NULL) {
		printf("db_new=NULL\n");
		return 1;
	}
	int deadline = atoi(argv[2]), repeat = atoi(argv[3]);
	int over = 0;
	for (int i = 0; i < repeat; i++) {
		int64_t t0 = rpc_clock_ms();
		db_set_deadline(d, deadline > 0 ? t0 + deadline : 0);
		rpc_status st;
		rpc_status_clear(&st);
		const char *params[] = {argc > 5 ? argv[5] : NULL};
		PGresult *r = db_exec(d, argv[4], argc > 5 ? 1 : 0, params, PGRES_TUPLES_OK, "probe", &st);
		int64_t took = rpc_clock_ms() - t0;
		if (deadline > 0 && took > deadline + 20)
			over++;
		printf("call=%d took_ms=%lld code=%d msg=\"%s\" value=%s last_error=\"%s\"\n", i, (long long) took,
		    st.code, st.message, r != NULL && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "-", db_last_error(d));
		fflush(stdout);
		PQclear(r);
		if (getenv("PROBE_SLEEP_MS"))
			usleep(1000 * atoi(getenv("PROBE_SLEEP_MS")));
	}
	printf("over_deadline=%d\n", over);
	db_free(d);
	return 0;
}
