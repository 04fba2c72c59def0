/* Building the Health reply of a service. */
#ifndef HEALTH_H
#define HEALTH_H

#include <stdbool.h>

#include "health.pb-c.h"

/* Fills d; name and detail are borrowed (detail must be fit for clients:
 * /readyz shows it). */
void health_dependency(Health__Dependency *d, const char *name, bool ok, const char *detail);

#endif
