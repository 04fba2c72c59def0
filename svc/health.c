/* health.h */
#include "health.h"

void
health_dependency(Health__Dependency *d, const char *name, bool ok, const char *detail)
{
	health__dependency__init(d);
	d->name   = (char *) name;
	d->ok     = ok;
	d->detail = (char *) detail;
}
