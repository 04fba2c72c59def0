/* procs.h: fork/exec, readiness polling and stopping. */
#include "procs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"

extern char **environ;

static void
sleep_ms(int ms)
{
	nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L}, NULL);
}

int
procs_free_port(void)
{
	int fd                 = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len          = sizeof(sin);
	if (fd < 0 || bind(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *) &sin, &len) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return ntohs(sin.sin_port);
}

int
procs_silent_port(void)
{
	int fd                 = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len          = sizeof(sin);
	if (fd < 0 || bind(fd, (struct sockaddr *) &sin, sizeof(sin)) != 0 || listen(fd, 128) != 0 ||
	    getsockname(fd, (struct sockaddr *) &sin, &len) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return ntohs(sin.sin_port); /* fd stays open, never accepted from */
}

static void exec_child(const char *path, const char *const *env, const char *log_path) __attribute__((noreturn));

pid_t
procs_start(const char *path, const char *const *env, const char *log_path)
{
	pid_t pid = fork();
	if (pid == 0)
		exec_child(path, env, log_path);
	return pid;
}

pid_t
procs_start_limited(const char *path, const char *const *env, const char *log_path, long max_fds)
{
	pid_t pid = fork();
	if (pid == 0) {
		struct rlimit r = {(rlim_t) max_fds, (rlim_t) max_fds};
		if (setrlimit(RLIMIT_NOFILE, &r) != 0)
			_exit(127);
		exec_child(path, env, log_path);
	}
	return pid;
}

/* Closes every descriptor from 3 up except keep (-1 for none). */
static void
close_from_3(int keep)
{
	long max_fd = sysconf(_SC_OPEN_MAX);
	for (long fd = 3; fd < (max_fd > 0 && max_fd < 65536 ? max_fd : 65536); fd++)
		if (fd != keep)
			close((int) fd);
}

/* The watcher of a detached process: starts it, hands its pid over the
 * pipe, waits for it and writes its wait status to status_path (through a
 * rename, so a reader never sees half a number). */
static void watch_child(const char *path, const char *const *env, const char *log_path, const char *status_path,
    int pid_pipe) __attribute__((noreturn));

static void
watch_child(const char *path, const char *const *env, const char *log_path, const char *status_path, int pid_pipe)
{
	/* Nothing of the test's either (see exec_child), or the runner would
	 * wait for the watcher as long as the process lives. */
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		close(devnull);
	}
	close_from_3(pid_pipe);
	pid_t pid = fork();
	if (pid == 0) {
		close(pid_pipe);
		exec_child(path, env, log_path);
	}
	/* The stop signals are for the process, not for its watcher (set after
	 * the fork: an ignored signal stays ignored across exec). */
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	ssize_t unused = write(pid_pipe, &pid, sizeof(pid));
	(void) unused;
	close(pid_pipe);
	int status;
	if (pid < 0 || status_path == NULL)
		_exit(0);
	/* The process must not outlive its suite: a suite killed at its time
	 * limit never stops its stack, and a leftover order-svc would consume
	 * the next suites' events from the shared queue. Once the owner
	 * (PROCS_OWNER_PID) is gone: SIGTERM, and SIGKILL 10 s later. */
	const char *owner_text = getenv("PROCS_OWNER_PID");
	pid_t owner            = owner_text != NULL ? (pid_t) atoi(owner_text) : 0;
	int64_t kill_at_ms     = -1;
	for (int64_t waited_ms = 0;; waited_ms += 100) {
		pid_t r = waitpid(pid, &status, owner > 0 || kill_at_ms >= 0 ? WNOHANG : 0);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			_exit(1);
		if (r != 0)
			continue;
		if (owner > 0 && kill(owner, 0) != 0 && errno == ESRCH) {
			kill(pid, SIGTERM);
			owner      = 0;
			kill_at_ms = waited_ms + 10000;
		}
		if (kill_at_ms >= 0 && waited_ms >= kill_at_ms)
			kill(pid, SIGKILL);
		sleep_ms(100);
	}
	char tmp[512], text[32];
	snprintf(tmp, sizeof(tmp), "%s.tmp", status_path);
	int n  = snprintf(text, sizeof(text), "%d\n", status);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		unused = write(fd, text, (size_t) n);
		close(fd);
		rename(tmp, status_path);
	}
	_exit(0);
}

pid_t
procs_start_detached(const char *path, const char *const *env, const char *log_path, const char *status_path)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	/* Test -> middle (exits at once, so we reap it) -> watcher (handed to
	 * init, like the process) -> the process, the watcher's own child. */
	pid_t middle = fork();
	if (middle == 0) {
		close(fds[0]);
		if (fork() == 0)
			watch_child(path, env, log_path, status_path, fds[1]);
		_exit(0);
	}
	close(fds[1]);
	pid_t pid = -1;
	if (middle < 0 || read(fds[0], &pid, sizeof(pid)) != (ssize_t) sizeof(pid))
		pid = -1;
	close(fds[0]);
	if (middle > 0)
		waitpid(middle, NULL, 0);
	return pid;
}

int
procs_read_status(const char *status_path, int timeout_ms)
{
	for (int waited = 0;; waited += 20) {
		FILE *f = fopen(status_path, "r");
		if (f != NULL) {
			int status;
			int ok = fscanf(f, "%d", &status) == 1;
			fclose(f);
			if (ok)
				return status;
		}
		if (waited >= timeout_ms)
			return -1;
		sleep_ms(20);
	}
}

void
procs_describe_status(int status, char *buf, size_t len)
{
	if (status == -1)
		snprintf(buf, len, "no exit status (still running, or its watcher died)");
	else if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "wait status %d", status);
}

static void
exec_child(const char *path, const char *const *env, const char *log_path)
{
	for (size_t i = 0; env != NULL && env[i] != NULL; i++) {
		char name[128];
		const char *eq = strchr(env[i], '=');
		if (eq == NULL || (size_t) (eq - env[i]) >= sizeof(name))
			continue;
		snprintf(name, sizeof(name), "%.*s", (int) (eq - env[i]), env[i]);
		setenv(name, eq + 1, 1);
	}
	if (log_path != NULL) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
	}
	/* Nothing of the test's: an inherited pipe (Criterion talks to its
	 * runner over stdin and others) would keep the runner waiting as long
	 * as this process lives. */
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		close(devnull);
	}
	close_from_3(-1);
	/* Not the test's stop signals: the child must see SIGTERM. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(path, (char *[]){(char *) path, NULL}, environ);
	_exit(127);
}

int
procs_wait_http(const char *url, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 50) {
		http_response r;
		long status = http_request("GET", url, NULL, NULL, &r);
		http_response_free(&r);
		if (status == 200)
			return 0;
		sleep_ms(50);
	}
	return -1;
}

int
procs_stop(pid_t pid, int timeout_ms)
{
	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	int status;
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		sleep_ms(20);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

long
procs_log_count(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	char line[4096];
	long n = 0;
	while (fgets(line, sizeof(line), f) != NULL)
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}
