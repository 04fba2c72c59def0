/* The process's file descriptors: each connection a server accepts holds
 * one (a TLS handshake in progress holds one for up to its 10 s bound,
 * rpc/server.c), so the soft limit, often 1024, is what a flood of
 * half-open connections exhausts first. Thread-safe. */
#ifndef BASE_FD_LIMIT_H
#define BASE_FD_LIMIT_H

/* Raises the soft RLIMIT_NOFILE to the hard limit (what an unprivileged
 * process may do) and returns the soft limit in force after; -1 when it
 * cannot be read. Call once at start. */
long fd_limit_raise(void);

/* How many more descriptors the process may open now (the soft limit less
 * those open, counted in /proc/self/fd); -1 when unknown. */
long fd_limit_headroom(void);

#endif
