/* civetweb_conn.h: the worker's connection, learned from its recv() calls. */
#define _GNU_SOURCE
#include "civetweb_conn.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

static _Thread_local bool expecting_first_read;
static _Thread_local const char *buffer_start;
static _Thread_local int connection_socket = -1;

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
	return connection_socket >= 0 ? shutdown(connection_socket, SHUT_RD) : -1;
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
	return next_recv(fd, buf, len, flags);
}
