/* service_urls.h: an address per registry service. */
#include "service_urls.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "contract/tables.h"
#include "procs.h"
#include "test_tls.h"

void
service_urls_set_all(const char *tag)
{
	for (size_t i = 0; i < contract_services_count; i++) {
		char url[160];
		if (test_tls_dir() != NULL)
			snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", procs_free_port());
		else
			snprintf(url, sizeof(url), "ipc:///tmp/%s-%d-%s.ipc", tag, (int) getpid(),
			    contract_services[i].name);
		setenv(contract_services[i].url_variable, url, 1);
	}
}

void
service_urls_nobody(char *out, size_t len, const char *tag, const char *what)
{
	if (test_tls_dir() != NULL)
		snprintf(out, len, "tls+tcp://127.0.0.1:%d", procs_free_port());
	else
		snprintf(out, len, "ipc:///tmp/%s-%d-nobody-%s.ipc", tag, (int) getpid(), what);
}
