/* contract/tables.h: lookups over the generated tables. */
#include "contract/tables.h"

#include <string.h>

const contract_service *
contract_service_named(const char *name)
{
	for (size_t i = 0; i < contract_services_count; i++) {
		if (strcmp(contract_services[i].name, name) == 0)
			return &contract_services[i];
	}
	return NULL;
}
