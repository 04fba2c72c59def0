/* Child processes for tests: start a built binary with extra environment,
 * wait for an HTTP port, stop it. */
#ifndef PROCS_H
#define PROCS_H

#include <sys/types.h>

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int procs_free_port(void);

/* Starts path with the current environment plus env ("NAME=value",
 * NULL-terminated); its stderr goes to log_path (appended) when not NULL.
 * Returns the pid, or -1. */
pid_t procs_start(const char *path, const char *const *env, const char *log_path);

/* The same, but the process is not our child (it is handed to init), so
 * neither Criterion's runner, which reaps every child it has, nor a test
 * that exits sees it; stop it with kill and watch /proc. */
pid_t procs_start_detached(const char *path, const char *const *env, const char *log_path);

/* Polls url until it answers 200, up to timeout_ms. Returns 0 or -1. */
int procs_wait_http(const char *url, int timeout_ms);

/* SIGTERM, then waits up to timeout_ms (SIGKILL after). Returns the exit
 * status as waitpid reports it, or -1. */
int procs_stop(pid_t pid, int timeout_ms);

#endif
