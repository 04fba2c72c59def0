/* Child processes for tests: start a built binary with extra environment,
 * wait for an HTTP port, stop it. */
#ifndef TESTS_SUPPORT_PROCS_H
#define TESTS_SUPPORT_PROCS_H

#include <stddef.h>
#include <sys/types.h>

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int procs_free_port(void);

/* A TCP port on 127.0.0.1 that accepts connections and never answers, as
 * a paused server does (SIGSTOP: its kernel completes each handshake into
 * the listen backlog, the process reads nothing): a socket that listens and
 * is never accepted from, open until this process ends. -1 on failure. */
int procs_silent_port(void);

/* Starts path with the current environment plus env ("NAME=value",
 * NULL-terminated); its stderr goes to log_path (appended) when not NULL.
 * Returns the pid, or -1. */
pid_t procs_start(const char *path, const char *const *env, const char *log_path);

/* The same with at most max_fds file descriptors (RLIMIT_NOFILE, soft and
 * hard: the process cannot raise it). */
pid_t procs_start_limited(const char *path, const char *const *env, const char *log_path, long max_fds);

/* The same, but the process is not our child (it is handed to init), so
 * neither Criterion's runner, which reaps every child it has, nor a test
 * that exits sees it; stop it with kill. A watcher process, detached too,
 * waits for it and, when status_path is not NULL, writes its wait status
 * there once it has ended (read it with procs_read_status). With
 * PROCS_OWNER_PID set, the watcher stops the process (SIGTERM, then SIGKILL
 * after 10 s) once that owner is gone, so nothing outlives a killed suite. */
pid_t procs_start_detached(const char *path, const char *const *env, const char *log_path, const char *status_path);

/* The wait status a detached process's watcher wrote to status_path, waiting
 * up to timeout_ms for it to appear; -1 when it did not. */
int procs_read_status(const char *status_path, int timeout_ms);

/* "exit 0", "killed by signal 9"... for a wait status (or -1) in messages. */
void procs_describe_status(int status, char *buf, size_t len);

/* Polls url until it answers 200, up to timeout_ms. Returns 0 or -1. */
int procs_wait_http(const char *url, int timeout_ms);

/* SIGTERM, then waits up to timeout_ms (SIGKILL after). Returns the exit
 * status as waitpid reports it, or -1. */
int procs_stop(pid_t pid, int timeout_ms);

/* How many lines of the log at path contain needle (a line over 4095
 * bytes counts as its pieces); -1 when the file cannot be read. */
long procs_log_count(const char *path, const char *needle);

#endif
