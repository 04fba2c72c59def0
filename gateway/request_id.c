/* request_id.h: validation and generation. */
#include "request_id.h"

#include "rpc/envelope.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

void
request_id_take_or_make(const char *header, char out[REQUEST_ID_MAX + 1])
{
	if (rpc_request_id_valid(header)) {
		memcpy(out, header, strlen(header) + 1);
		return;
	}
	uint8_t b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t) sizeof(b)) {
		/* Practically never; a clock-derived id is still unique enough to
		 * follow one request through the logs. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		memcpy(b, &ts, sizeof(b) < sizeof(ts) ? sizeof(b) : sizeof(ts));
	}
	b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, REQUEST_ID_MAX + 1, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
	    b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}
