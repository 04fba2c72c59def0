/* request_id.h: validation and generation. */
#include "request_id.h"

#include "rpc/envelope.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* A request id names a request in the logs; it is no secret. So each
 * thread draws its 128 bits from its own splitmix64 sequence (Steele, Lea
 * and Flood, "Fast splittable pseudorandom number generators", 2014),
 * seeded once from the kernel, rather than a getrandom(2) per request. */
static _Thread_local uint64_t state;
static _Thread_local bool seeded;

static uint64_t
next64(void)
{
	uint64_t z = (state += 0x9e3779b97f4a7c15u);
	z          = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z          = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static void
seed(void)
{
	if (getrandom(&state, sizeof(state), 0) != (ssize_t) sizeof(state)) {
		/* Practically never; the clock and the thread's own address
		 * still set threads apart. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		state = ((uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec) ^ (uint64_t) (uintptr_t) &state;
	}
	seeded = true;
}

void
request_id_take_or_make(const char *header, char out[REQUEST_ID_MAX + 1])
{
	if (rpc_request_id_valid(header)) {
		memcpy(out, header, strlen(header) + 1);
		return;
	}
	if (!seeded)
		seed();
	uint64_t hi = next64(), lo = next64();
	uint8_t b[16];
	for (int i = 0; i < 8; i++) {
		b[i]     = (uint8_t) (hi >> (56 - 8 * i));
		b[8 + i] = (uint8_t) (lo >> (56 - 8 * i));
	}
	b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	snprintf(out, REQUEST_ID_MAX + 1, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
	    b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}
