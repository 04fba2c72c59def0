/* db_service.h: pg_service.conf, as libpq 15's parseServiceFile reads it. */
#include "svc/db_service.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Trailing white space (and the newline) off s. */
static void
trim_end(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

/* 1 when path defines [name] (value filled as db_service_lookup says), 0
 * when not, or when the file cannot be read. */
static int
lookup_in(const char *path, const char *name, const char *keyword, char *value, size_t len)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	char line[1024];
	bool in_section = false, found = false, taken = false;
	size_t k = keyword != NULL ? strlen(keyword) : 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line + strspn(line, " \t");
		trim_end(p);
		if (p[0] == '\0' || p[0] == '#')
			continue;
		if (p[0] == '[') {
			if (in_section)
				break; /* the next section: [name] is over */
			size_t n   = strlen(name);
			in_section = strncmp(p + 1, name, n) == 0 && p[n + 1] == ']';
			found      = found || in_section;
			continue;
		}
		/* key=value, no white space around '=' (libpq keeps it); the
		 * first of a key counts, as in libpq's parseServiceFile, which
		 * overrides no value already set. */
		if (in_section && keyword != NULL && !taken && strncmp(p, keyword, k) == 0 && p[k] == '=') {
			snprintf(value, len, "%s", p + k + 1);
			taken = true;
		}
	}
	fclose(f);
	return found;
}

bool
db_service_lookup(const char *name, const char *keyword, char *value, size_t len)
{
	if (value != NULL && len > 0)
		value[0] = '\0';
	char path[512];
	const char *file = getenv("PGSERVICEFILE"), *home = getenv("HOME"), *sysdir = getenv("PGSYSCONFDIR");
	if (file != NULL)
		snprintf(path, sizeof(path), "%s", file);
	else if (home != NULL)
		snprintf(path, sizeof(path), "%s/.pg_service.conf", home);
	if ((file != NULL || home != NULL) && lookup_in(path, name, keyword, value, len))
		return true;
	snprintf(path, sizeof(path), "%s/pg_service.conf", sysdir != NULL ? sysdir : PG_SYSCONFDIR);
	return lookup_in(path, name, keyword, value, len);
}
