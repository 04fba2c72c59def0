/* signals.h: a self-pipe for SIGINT and SIGTERM. */
#include "base/signals.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

static int stop_pipe[2] = {-1, -1};

/* Async-signal-safe: write(2) only, errno kept. A full pipe (signals
 * nobody read yet) drops this one: one is enough to stop. */
static void
on_stop_signal(int sig)
{
	int saved         = errno;
	unsigned char num = (unsigned char) sig;
	ssize_t n         = write(stop_pipe[1], &num, 1);
	(void) n;
	errno = saved;
}

static void
stop_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
}

int
signals_catch_stop(void)
{
	if (pipe(stop_pipe) != 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		int flags = fcntl(stop_pipe[i], F_GETFL);
		if (flags < 0 || fcntl(stop_pipe[i], F_SETFL, flags | O_NONBLOCK) != 0 ||
		    fcntl(stop_pipe[i], F_SETFD, FD_CLOEXEC) != 0)
			return -1;
	}
	sigset_t set;
	stop_set(&set);
	/* Threads inherit the mask: ours start with the stop signals blocked. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	struct sigaction sa = {.sa_handler = on_stop_signal, .sa_flags = SA_RESTART};
	sigfillset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int
signals_wait_stop(int timeout_ms)
{
	sigset_t set;
	stop_set(&set);
	/* Main takes them while it waits (a pending one arrives now). */
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	int sig = 0;
	for (;;) {
		unsigned char num;
		if (read(stop_pipe[0], &num, 1) == 1) {
			sig = num;
			break;
		}
		struct pollfd p = {.fd = stop_pipe[0], .events = POLLIN};
		int rv          = poll(&p, 1, timeout_ms);
		if (rv == 0)
			break; /* timed out */
		if (rv < 0 && errno != EINTR)
			break;
		/* readable, or interrupted by the handler itself: read again. A
		 * wait with a timeout restarts it whole after EINTR, at worst
		 * twice as long once. */
	}
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	return sig;
}

bool
signals_stop_pending(void)
{
	if (stop_pipe[0] < 0)
		return false;
	struct pollfd p = {.fd = stop_pipe[0], .events = POLLIN};
	if (poll(&p, 1, 0) > 0)
		return true;
	sigset_t pending;
	return sigpending(&pending) == 0 && (sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1);
}
