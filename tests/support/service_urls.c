/* service_urls.h: an ipc address per registry service. */
#include "service_urls.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "contract/tables.h"

void
service_urls_set_all(const char *tag)
{
	for (size_t i = 0; i < contract_services_count; i++) {
		char url[160];
		snprintf(url, sizeof(url), "ipc:///tmp/%s-%d-%s.ipc", tag, (int) getpid(), contract_services[i].name);
		setenv(contract_services[i].url_variable, url, 1);
	}
}
