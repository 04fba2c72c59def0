/* A host name's lookup bounded in time (issue 20): glibc's getaddrinfo_a,
 * so that a connect can stop waiting for a silent DNS server at the
 * request's deadline and go on with the lookup at the next call, as it does
 * with a silent PostgreSQL host. Private to svc/ (db.c). */
#ifndef SVC_DB_LOOKUP_H
#define SVC_DB_LOOKUP_H

typedef struct db_lookup db_lookup;

/* Starts looking name up as libpq does (getaddrinfo, AF_UNSPEC,
 * SOCK_STREAM). Returns the lookup, or NULL with an EAI_ code in *err
 * (EAI_MEMORY, EAI_AGAIN: glibc could not start it). One thread uses a
 * lookup; any thread may start one. */
db_lookup *db_lookup_start(const char *name, int *err);

/* Waits at most timeout_ms (0: a look) for l to finish. 1 when done, 0 when
 * not yet. */
int db_lookup_wait(db_lookup *l, int timeout_ms);

/* After db_lookup_wait said done: 0 with the addresses, numeric (inet_ntop,
 * an IPv6 one with its %scope), in getaddrinfo's order, in *addrs (n of
 * them; the array and each string the caller's to free), or an EAI_ code
 * (EAI_SYSTEM: errno's). */
int db_lookup_result(db_lookup *l, char ***addrs, int *n);

/* Ends l, done or not; accepts NULL. One still under way in glibc's thread
 * (gai_cancel cannot stop a query sent) is freed by a later
 * db_lookup_start once it finished, never while glibc may write to it. */
void db_lookup_free(db_lookup *l);

#endif
