/* health.h */
#include "svc/health.h"

#include "svc/cache.h"

#include <stdio.h>
#include <unistd.h>

void
health_dependency(Health__Dependency *d, const char *name, bool ok, const char *detail)
{
	health__dependency__init(d);
	d->name   = (char *) name;
	d->ok     = ok;
	d->detail = (char *) detail;
}

void
health_stat(Health__Stat *s, const char *name, const char *help, bool gauge, uint64_t value)
{
	health__stat__init(s);
	s->name  = (char *) name;
	s->help  = (char *) help;
	s->gauge = gauge;
	s->value = value;
}

void
health_cache_stats(Health__Stat stats[HEALTH_CACHE_STATS])
{
	health_stat(&stats[0], "cache_hits_total", "reads answered from Redis", false, cache_hit_count());
	health_stat(&stats[1], "cache_misses_total", "reads that went to PostgreSQL", false, cache_miss_count());
	health_stat(&stats[2], "cache_errors_total", "Redis commands that failed (served from PostgreSQL)", false,
	    cache_error_count());
}

const char *
health_instance(void)
{
	static _Thread_local char name[300];
	char host[256] = "";
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	snprintf(name, sizeof(name), "%s:%ld", host, (long) getpid());
	return name;
}
