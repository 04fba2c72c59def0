/* The gateway's listening sockets, for TCP options CivetWeb 1.15 has no
 * setting for. */
#ifndef GATEWAY_LISTEN_SOCKETS_H
#define GATEWAY_LISTEN_SOCKETS_H

#include "base/env.h"

/* CivetWeb gives a worker to each connection as soon as it is accepted, and
 * the worker waits up to REQUEST_TIMEOUT_MS for the first bytes: a client
 * that connects and sends nothing (a preconnect, a scanner) held a worker
 * for 30 s, and WORKERS such clients held them all. With TCP_DEFER_ACCEPT
 * the kernel keeps a connection until its first bytes arrive, or for about
 * REQUEST_TIMEOUT_MS (it is then handed over anyway, and cut off after
 * REQUEST_TIMEOUT_MS more). CivetWeb does not tell its sockets, so they
 * are found among the process's: listening, and on one of ports. Sets
 * TCP_DEFER_ACCEPT on each for about timeout_ms; returns how many it set
 * (0 where the system has no such option). */
int listen_sockets_defer_accept(const env_port_list *ports, long timeout_ms);

#endif
