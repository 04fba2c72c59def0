/* What CivetWeb 1.15 does not tell a handler about the connection its
 * worker thread serves: the connection's socket and the buffer its request
 * head was read into (struct mg_connection is opaque).
 *
 * Each worker thread owns one request buffer of max_request_size bytes,
 * reused for every connection it takes; at a new connection CivetWeb
 * empties it and recv()s the head's first bytes to its start
 * (init_connection, read_message, pull_inner). This module defines recv()
 * for the gateway's process, passing every call on to the C library's: the
 * first call a worker makes after civetweb_conn_opened() names the buffer's
 * start and the socket. Knowing the start, civetweb_head can bound every
 * byte it reads and see what CivetWeb skipped before the request line;
 * knowing the socket, a handler can shut its read side.
 *
 * Thread-local: each function answers for the calling worker thread only,
 * and only between that connection's first recv() and its close. */
#ifndef GATEWAY_CIVETWEB_CONN_H
#define GATEWAY_CIVETWEB_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* From CivetWeb's init_connection callback (the worker's thread, before
 * anything of the connection is read): the next recv() is its first. */
void civetweb_conn_opened(void);

/* The start of the buffer this worker's connection reads its requests
 * into, or NULL when not known (no recv() seen since the connection
 * opened). */
const char *civetweb_conn_buffer(void);

/* True when the last recv() into that buffer filled it to its last byte
 * (size bytes): a head that did not end within it was too large. */
bool civetweb_conn_buffer_filled(size_t size);

/* The socket of this worker's connection, or -1 when not known. */
int civetweb_conn_socket(void);

/* After a handler refuses a request whose body it did not read, CivetWeb
 * 1.15 reads that body to its declared end before closing
 * (discard_unread_request_data): a client that declared a large or endless
 * length and went silent held the connection and its worker until
 * REQUEST_TIMEOUT_MS. CivetWeb has no call to end a connection from a
 * handler, so this shuts the read side of the worker's socket: what is
 * queued is still read, then the discard sees the end. Returns 0 (also
 * when the peer is gone already), -1 when the socket is not known, -2 when
 * shutdown() failed otherwise. */
int civetweb_conn_stop_reading(void);

/* A deadline on reading this worker's connection. CivetWeb 1.15's
 * mg_read waits for the whole length asked, and its timeout restarts with
 * every byte that arrives (pull_all), so a client sending a byte a second
 * held a worker for as long as it liked. Armed, the deadline shuts the
 * socket's read side at deadline_ms (rpc_clock_ms), which ends a read
 * CivetWeb is blocked in; a thread of this module's checks every 100 ms.
 * Arm before reading, disarm after: civetweb_conn_read_deadline_end
 * returns true when the deadline fired meanwhile (the read was cut short).
 * Returns -1 from _start when the socket is not known. Thread-safe: each
 * worker arms only its own. */
int civetweb_conn_read_deadline_start(int64_t deadline_ms);
bool civetweb_conn_read_deadline_end(void);

#endif
