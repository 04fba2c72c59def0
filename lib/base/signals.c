/* signals.h */
#include "base/signals.h"

#include <pthread.h>

void
signals_block_stop(sigset_t *stop)
{
	sigemptyset(stop);
	sigaddset(stop, SIGINT);
	sigaddset(stop, SIGTERM);
	/* Threads inherit the mask, so only main's sigwait takes them. */
	pthread_sigmask(SIG_BLOCK, stop, NULL);
	signal(SIGPIPE, SIG_IGN);
}
