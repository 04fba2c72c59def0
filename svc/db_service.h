/* A libpq connection service (pg_service.conf) read as libpq 15 reads it,
 * so that what a service's connects will do is known before the first one:
 * a URL's `service=NAME` (or PGSERVICE) takes the options of the file's
 * [NAME] section that the URL does not set. Private to svc/ (db_conninfo.c,
 * db_hosts.c). */
#ifndef SVC_DB_SERVICE_H
#define SVC_DB_SERVICE_H

#include <stdbool.h>
#include <stddef.h>

/* Whether a service file libpq would read defines [name]: the file
 * PGSERVICEFILE names (else ~/.pg_service.conf), then
 * PGSYSCONFDIR/pg_service.conf (libpq's default directory when unset); the
 * first file that defines it is the one used. When it does and keyword is
 * not NULL, value gets that section's value of keyword ("" when it has
 * none), cut to len. Thread-safe (reads files, no state). */
bool db_service_lookup(const char *name, const char *keyword, char *value, size_t len);

#endif
