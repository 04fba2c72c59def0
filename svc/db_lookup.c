/* db_lookup.h: getaddrinfo_a (glibc, in libc since 2.34). */
#define _GNU_SOURCE /* getaddrinfo_a, gai_suspend, gai_cancel */
#include "svc/db_lookup.h"

#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct db_lookup {
	struct gaicb req; /* glibc writes its result here: kept until it is done */
	struct addrinfo hints;
	char *name;
	db_lookup *next; /* in abandoned */
};

/* Lookups freed while glibc's thread still works on them (db_lookup_free):
 * freed by the next db_lookup_start that finds them done. */
static pthread_mutex_t abandoned_lock = PTHREAD_MUTEX_INITIALIZER;
static db_lookup *abandoned;

static void
release(db_lookup *l)
{
	freeaddrinfo(l->req.ar_result);
	free(l->name);
	free(l);
}

static void
sweep(void)
{
	pthread_mutex_lock(&abandoned_lock);
	for (db_lookup **p = &abandoned; *p != NULL;) {
		db_lookup *l = *p;
		if (gai_error(&l->req) == EAI_INPROGRESS) {
			p = &l->next;
			continue;
		}
		*p = l->next;
		release(l);
	}
	pthread_mutex_unlock(&abandoned_lock);
}

db_lookup *
db_lookup_start(const char *name, int *err)
{
	sweep();
	db_lookup *l = calloc(1, sizeof(*l));
	if (l == NULL || (l->name = strdup(name)) == NULL) {
		free(l);
		*err = EAI_MEMORY;
		return NULL;
	}
	l->hints.ai_family   = AF_UNSPEC;
	l->hints.ai_socktype = SOCK_STREAM;
	l->req.ar_name       = l->name;
	l->req.ar_request    = &l->hints;
	struct gaicb *list[] = {&l->req};
	int rc               = getaddrinfo_a(GAI_NOWAIT, list, 1, NULL);
	if (rc != 0) {
		release(l);
		*err = rc;
		return NULL;
	}
	return l;
}

int
db_lookup_wait(db_lookup *l, int timeout_ms)
{
	const struct gaicb *list[] = {&l->req};
	struct timespec t          = {.tv_sec = timeout_ms / 1000, .tv_nsec = (long) (timeout_ms % 1000) * 1000000L};
	if (gai_error(&l->req) == EAI_INPROGRESS && timeout_ms > 0)
		gai_suspend(list, 1, &t); /* EAI_AGAIN (timeout), EAI_INTR: looked at below */
	return gai_error(&l->req) != EAI_INPROGRESS;
}

int
db_lookup_result(db_lookup *l, char ***addrs, int *n)
{
	*addrs = NULL;
	*n     = 0;
	int rc = gai_error(&l->req);
	if (rc != 0)
		return rc;
	int count = 0;
	for (struct addrinfo *ai = l->req.ar_result; ai != NULL; ai = ai->ai_next)
		count++;
	char **out = calloc((size_t) (count > 0 ? count : 1), sizeof(*out));
	if (out == NULL)
		return EAI_MEMORY;
	for (struct addrinfo *ai = l->req.ar_result; ai != NULL; ai = ai->ai_next) {
		char text[128]; /* an IPv6 address with a scope fits */
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, text, sizeof(text), NULL, 0, NI_NUMERICHOST) != 0)
			continue;
		if ((out[*n] = strdup(text)) == NULL)
			break;
		(*n)++;
	}
	if (*n == 0) {
		free(out);
		return count > 0 ? EAI_MEMORY : EAI_NONAME;
	}
	*addrs = out;
	return 0;
}

void
db_lookup_free(db_lookup *l)
{
	if (l == NULL)
		return;
	if (gai_error(&l->req) == EAI_INPROGRESS && gai_cancel(&l->req) != EAI_CANCELED &&
	    gai_error(&l->req) == EAI_INPROGRESS) {
		pthread_mutex_lock(&abandoned_lock);
		l->next   = abandoned;
		abandoned = l;
		pthread_mutex_unlock(&abandoned_lock);
		return;
	}
	release(l);
}
