/* libFuzzer: path matching. The first byte picks the method, the rest is
 * the path. A match must bind only non-empty parameters without '/'. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "OPTIONS", NULL};
	if (size == 0)
		return 0;
	char path[4096];
	size_t n = size - 1 < sizeof(path) - 1 ? size - 1 : sizeof(path) - 1;
	memcpy(path, data + 1, n);
	path[n] = '\0';
	route_match m;
	char allow[64];
	route_result r = routes_match(methods[data[0] % 6], path, &m, allow, sizeof(allow));
	if (r == ROUTE_FOUND) {
		for (int i = 0; i < m.n_params; i++) {
			if (m.params[i].value_len == 0 ||
			    memchr(m.params[i].value, '/', m.params[i].value_len) != NULL || m.params[i].value < path ||
			    m.params[i].value + m.params[i].value_len > path + n)
				abort();
		}
	} else if (r == ROUTE_METHOD_NOT_ALLOWED && allow[0] == '\0') {
		abort();
	}
	return 0;
}
