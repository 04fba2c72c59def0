/* Building the Health reply of a service. */
#ifndef SVC_HEALTH_H
#define SVC_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "health.pb-c.h"

/* Fills d; name and detail are borrowed (detail must be fit for clients:
 * /readyz shows it). */
void health_dependency(Health__Dependency *d, const char *name, bool ok, const char *detail);

/* Fills s; name and help are borrowed. */
void health_stat(Health__Stat *s, const char *name, const char *help, bool gauge, uint64_t value);

/* This process's name for the Health reply's instance: "host:pid". */
const char *health_instance(void);

/* The cache's counters (cache_hits_total, cache_misses_total,
 * cache_errors_total) as the first three of stats. */
#define HEALTH_CACHE_STATS 3
void health_cache_stats(Health__Stat stats[HEALTH_CACHE_STATS]);

#endif
