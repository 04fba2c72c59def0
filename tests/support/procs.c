/* procs.h: fork/exec, readiness polling and stopping. */
#include "procs.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"

extern char **environ;

static void
sleep_ms(int ms)
{
	nanosleep(&(struct timespec) {.tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L}, NULL);
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
procs_start_detached(const char *path, const char *const *env, const char *log_path)
{
	int fds[2];
	if (pipe(fds) != 0)
		return -1;
	pid_t middle = fork();
	if (middle == 0) {
		close(fds[0]);
		pid_t pid = fork();
		if (pid == 0) {
			close(fds[1]);
			exec_child(path, env, log_path);
		}
		ssize_t unused = write(fds[1], &pid, sizeof(pid));
		(void) unused;
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
	long max_fd = sysconf(_SC_OPEN_MAX);
	for (long fd = 3; fd < (max_fd > 0 && max_fd < 65536 ? max_fd : 65536); fd++)
		close((int) fd);
	/* Not the test's stop signals: the child must see SIGTERM. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(path, (char *[]) {(char *) path, NULL}, environ);
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
