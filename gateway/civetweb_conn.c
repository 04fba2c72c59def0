/* civetweb_conn.h: the worker's connection, learned from its recv() calls. */
#define _GNU_SOURCE
#include "civetweb_conn.h"

#include "rpc/envelope.h" /* rpc_clock_ms */

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

static _Thread_local bool expecting_first_read;
static _Thread_local const char *buffer_start;
static _Thread_local int connection_socket = -1;
static _Thread_local const char *last_read_end; /* of the last recv() into the buffer */

typedef ssize_t (*recv_fn)(int, void *, size_t, int);
static recv_fn next_recv;
static pthread_once_t next_recv_once = PTHREAD_ONCE_INIT;

static void
find_next_recv(void)
{
	next_recv = (recv_fn) dlsym(RTLD_NEXT, "recv");
}

void
civetweb_conn_opened(void)
{
	expecting_first_read = true;
	buffer_start         = NULL;
	connection_socket    = -1;
	last_read_end        = NULL;
}

bool
civetweb_conn_buffer_filled(size_t size)
{
	return buffer_start != NULL && last_read_end == buffer_start + size;
}

const char *
civetweb_conn_buffer(void)
{
	return buffer_start;
}

int
civetweb_conn_socket(void)
{
	return connection_socket;
}

int
civetweb_conn_stop_reading(void)
{
	if (connection_socket < 0)
		return -1;
	/* ENOTCONN: the peer is gone already, and there is nothing to read. */
	return shutdown(connection_socket, SHUT_RD) == 0 || errno == ENOTCONN ? 0 : -2;
}

/* Every recv() of the process comes here first (the executable's symbol is
 * found before the C library's); it only notes a worker's first read. */
ssize_t
recv(int fd, void *buf, size_t len, int flags)
{
	if (expecting_first_read) {
		expecting_first_read = false;
		buffer_start         = buf;
		connection_socket    = fd;
	}
	pthread_once(&next_recv_once, find_next_recv);
	ssize_t n = next_recv(fd, buf, len, flags);
	/* Only a read into the request buffer can end exactly at its end (a
	 * body read into a handler's own buffer lies elsewhere). */
	if (n > 0 && fd == connection_socket)
		last_read_end = (const char *) buf + n;
	return n;
}

/* ---- read deadlines ---- */

#define DEADLINE_SLOTS 1024 /* worker threads; config caps WORKERS below it */

enum { SLOT_IDLE, SLOT_ARMED, SLOT_FIRING, SLOT_FIRED };

typedef struct deadline_slot {
	_Atomic int state;
	_Atomic int fd;
	_Atomic int64_t deadline_ms;
} deadline_slot;

static deadline_slot slots[DEADLINE_SLOTS];
static _Atomic int slots_used;
static _Thread_local int my_slot   = -1;
static pthread_once_t watcher_once = PTHREAD_ONCE_INIT;

/* Shuts the read side of every armed socket whose deadline has passed.
 * FIRING keeps the worker from closing the socket (and its number from
 * being reused) between the check and the shutdown. */
static void *
watch_deadlines(void *arg)
{
	(void) arg;
	for (;;) {
		nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
		int64_t now = rpc_clock_ms();
		int used    = atomic_load(&slots_used);
		for (int i = 0; i < used; i++) {
			int armed = SLOT_ARMED;
			if (atomic_load(&slots[i].state) == SLOT_ARMED && now >= atomic_load(&slots[i].deadline_ms) &&
			    atomic_compare_exchange_strong(&slots[i].state, &armed, SLOT_FIRING)) {
				shutdown(atomic_load(&slots[i].fd), SHUT_RD);
				atomic_store(&slots[i].state, SLOT_FIRED);
			}
		}
	}
	return NULL;
}

static void
start_watcher(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, watch_deadlines, NULL) == 0)
		pthread_detach(t);
}

int
civetweb_conn_read_deadline_start(int64_t deadline_ms)
{
	if (connection_socket < 0)
		return -1;
	if (my_slot < 0) {
		int slot = atomic_fetch_add(&slots_used, 1);
		if (slot >= DEADLINE_SLOTS) {
			atomic_fetch_sub(&slots_used, 1);
			return -1;
		}
		my_slot = slot;
	}
	pthread_once(&watcher_once, start_watcher);
	atomic_store(&slots[my_slot].fd, connection_socket);
	atomic_store(&slots[my_slot].deadline_ms, deadline_ms);
	atomic_store(&slots[my_slot].state, SLOT_ARMED);
	return 0;
}

bool
civetweb_conn_read_deadline_end(void)
{
	if (my_slot < 0)
		return false;
	int armed = SLOT_ARMED;
	if (atomic_compare_exchange_strong(&slots[my_slot].state, &armed, SLOT_IDLE))
		return false;
	while (atomic_load(&slots[my_slot].state) == SLOT_FIRING)
		sched_yield();
	atomic_store(&slots[my_slot].state, SLOT_IDLE);
	return true;
}
