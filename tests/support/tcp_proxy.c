/* tcp_proxy.h */
#define _GNU_SOURCE /* memmem */
#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNECTIONS 64
#define LOOK_MS 50 /* how often each thread looks at the stop */

typedef struct proxied {
	tcp_proxy *proxy;
	int client, server;
	pthread_t thread;
} proxied;

struct tcp_proxy {
	int listener, port, upstream;
	_Atomic bool stopping;
	pthread_t acceptor;
	pthread_mutex_t lock; /* guards the fault and the links */
	bool armed, met;
	tcp_proxy_fault fault;
	int tail_bytes;          /* TCP_PROXY_HOLD_TAIL's */
	_Atomic bool release;    /* tcp_proxy_release was called */
	_Atomic bool hold_close; /* tcp_proxy_hold_close */
	_Atomic int resets;      /* tcp_proxy_reset_frozen calls so far */
	char *text;
	proxied links[MAX_CONNECTIONS];
	int n_links;
};

static bool
send_all(int fd, const char *buf, ssize_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, buf, (size_t) n, MSG_NOSIGNAL);
		if (w <= 0)
			return false;
		buf += w;
		n -= w;
	}
	return true;
}

/* Whether buf holds the armed text: the fault is then met (once), and
 * *fault says which. */
static bool
meets_fault(tcp_proxy *p, const char *buf, ssize_t n, tcp_proxy_fault *fault, int *tail_bytes)
{
	pthread_mutex_lock(&p->lock);
	bool hit = p->armed && memmem(buf, (size_t) n, p->text, strlen(p->text)) != NULL;
	if (hit) {
		p->armed    = false;
		p->met      = true;
		*fault      = p->fault;
		*tail_bytes = p->tail_bytes;
	}
	pthread_mutex_unlock(&p->lock);
	return hit;
}

static void *
forward(void *arg)
{
	proxied *l   = arg;
	tcp_proxy *p = l->proxy;
	bool frozen = false, lose_reply = false, server_closed = false;
	int frozen_at = 0; /* p->resets when frozen: a later call resets it */
	char buf[16384], tail[64];
	int held = 0; /* bytes in tail, held for tcp_proxy_release */
	while (!atomic_load(&p->stopping)) {
		if (held > 0 && atomic_load(&p->release)) {
			send_all(l->server, tail, held);
			held = 0;
		}
		if (frozen && atomic_load(&p->resets) != frozen_at) {
			struct linger reset = {.l_onoff = 1, .l_linger = 0};
			setsockopt(l->client, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
			break;
		}
		if (frozen) { /* nothing read, nothing delivered: only the stop */
			usleep(LOOK_MS * 1000);
			continue;
		}
		/* A closed server's fd out of the poll (-1): its hangup would
		 * wake it at once, again and again. */
		struct pollfd fds[2] = {
		    {.fd = l->client, .events = POLLIN}, {.fd = server_closed ? -1 : l->server, .events = POLLIN}};
		if (poll(fds, 2, LOOK_MS) <= 0)
			continue;
		if (fds[0].revents != 0) {
			ssize_t n = read(l->client, buf, sizeof(buf));
			if (n <= 0 || server_closed)
				break; /* a server gone: the client's bytes end it */
			tcp_proxy_fault fault;
			int tail_bytes;
			if (meets_fault(p, buf, n, &fault, &tail_bytes)) {
				if (fault == TCP_PROXY_FREEZE) {
					frozen    = true; /* held: never delivered */
					frozen_at = atomic_load(&p->resets);
					continue;
				}
				if (fault == TCP_PROXY_HOLD_TAIL) {
					held = tail_bytes < n ? tail_bytes : (int) n;
					memcpy(tail, buf + n - held, (size_t) held);
					n -= held;
				}
				lose_reply = fault == TCP_PROXY_LOSE_REPLY;
			}
			if (!send_all(l->server, buf, n))
				break;
		}
		if (fds[1].revents != 0) {
			ssize_t n = read(l->server, buf, sizeof(buf));
			if (n <= 0 && atomic_load(&p->hold_close)) {
				server_closed = true;
				continue;
			}
			if (n <= 0 || lose_reply)
				break; /* the answer thrown away: both ends closed */
			if (!send_all(l->client, buf, n))
				break;
		}
	}
	close(l->client);
	close(l->server);
	l->client = l->server = -1;
	return NULL;
}

static void *
accept_loop(void *arg)
{
	tcp_proxy *p = arg;
	while (!atomic_load(&p->stopping)) {
		struct pollfd pf = {.fd = p->listener, .events = POLLIN};
		if (poll(&pf, 1, LOOK_MS) <= 0)
			continue;
		int c = accept(p->listener, NULL, NULL);
		if (c < 0)
			continue;
		int s                = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {
		    .sin_family = AF_INET, .sin_port = htons(p->upstream), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		pthread_mutex_lock(&p->lock);
		bool room = p->n_links < MAX_CONNECTIONS;
		pthread_mutex_unlock(&p->lock);
		if (s < 0 || !room || connect(s, (struct sockaddr *) &a, sizeof(a)) != 0) {
			close(c);
			if (s >= 0)
				close(s);
			continue;
		}
		pthread_mutex_lock(&p->lock);
		proxied *l = &p->links[p->n_links];
		l->proxy   = p;
		l->client  = c;
		l->server  = s;
		if (pthread_create(&l->thread, NULL, forward, l) == 0) {
			p->n_links++;
		} else {
			close(c);
			close(s);
		}
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

tcp_proxy *
tcp_proxy_start(int upstream_port)
{
	tcp_proxy *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->upstream          = upstream_port;
	p->listener          = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len        = sizeof(a);
	if (p->listener < 0 || bind(p->listener, (struct sockaddr *) &a, sizeof(a)) != 0 ||
	    listen(p->listener, 16) != 0 || getsockname(p->listener, (struct sockaddr *) &a, &len) != 0) {
		if (p->listener >= 0)
			close(p->listener);
		free(p);
		return NULL;
	}
	p->port       = ntohs(a.sin_port);
	p->tail_bytes = 5;
	pthread_mutex_init(&p->lock, NULL);
	if (pthread_create(&p->acceptor, NULL, accept_loop, p) != 0) {
		close(p->listener);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return NULL;
	}
	return p;
}

int
tcp_proxy_port(const tcp_proxy *p)
{
	return p->port;
}

void
tcp_proxy_arm(tcp_proxy *p, tcp_proxy_fault fault, const char *text)
{
	pthread_mutex_lock(&p->lock);
	free(p->text);
	p->text  = strdup(text);
	p->fault = fault;
	p->armed = p->text != NULL;
	p->met   = false;
	atomic_store(&p->release, false);
	pthread_mutex_unlock(&p->lock);
}

void
tcp_proxy_hold_tail(tcp_proxy *p, int tail_bytes)
{
	pthread_mutex_lock(&p->lock);
	p->tail_bytes = tail_bytes > 0 && tail_bytes <= 64 ? tail_bytes : 5;
	pthread_mutex_unlock(&p->lock);
}

void
tcp_proxy_release(tcp_proxy *p)
{
	atomic_store(&p->release, true);
}

void
tcp_proxy_hold_close(tcp_proxy *p, bool on)
{
	atomic_store(&p->hold_close, on);
}

void
tcp_proxy_reset_frozen(tcp_proxy *p)
{
	atomic_fetch_add(&p->resets, 1);
}

bool
tcp_proxy_met(tcp_proxy *p)
{
	pthread_mutex_lock(&p->lock);
	bool met = p->met;
	pthread_mutex_unlock(&p->lock);
	return met;
}

void
tcp_proxy_stop(tcp_proxy *p)
{
	if (p == NULL)
		return;
	atomic_store(&p->stopping, true);
	pthread_join(p->acceptor, NULL);
	for (int i = 0; i < p->n_links; i++)
		pthread_join(p->links[i].thread, NULL);
	close(p->listener);
	pthread_mutex_destroy(&p->lock);
	free(p->text);
	free(p);
}
