/* env.h: the only place that reads the environment. */
#include "env.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *
value_of(const env_var *v)
{
	const char *s = getenv(v->name);
	return s != NULL ? s : v->default_value;
}

static int
parse_long(const char *text, long min, long max, long *out, char *err, size_t errlen)
{
	char *end;
	errno  = 0;
	long x = strtol(text, &end, 10);
	/* strtol alone would take leading white space and '+'. */
	bool starts_ok = (text[0] >= '0' && text[0] <= '9') || (text[0] == '-' && text[1] >= '0' && text[1] <= '9');
	if (!starts_ok || *end != '\0' || errno == ERANGE) {
		snprintf(err, errlen, "'%s' is not an integer", text);
		return -1;
	}
	if (x < min || x > max) {
		snprintf(err, errlen, "%ld is out of range [%ld, %ld]", x, min, max);
		return -1;
	}
	*out = x;
	return 0;
}

static int
load_one(const env_var *v, char *reason, size_t len)
{
	const char *text = value_of(v);
	switch (v->kind) {
	case ENV_STRING:
		if (text[0] == '\0' && !v->may_be_empty) {
			snprintf(reason, len, "must not be empty");
			return -1;
		}
		*(const char **) v->out = text;
		return 0;
	case ENV_INT:
		return parse_long(text, v->min, v->max, (long *) v->out, reason, len);
	case ENV_CHOICE:
		for (int i = 0; v->choices[i] != NULL; i++) {
			if (strcmp(text, v->choices[i]) == 0) {
				*(int *) v->out = i;
				return 0;
			}
		}
		snprintf(reason, len, "'%s' is not one of", text);
		for (int i = 0; v->choices[i] != NULL; i++) {
			size_t used = strlen(reason);
			snprintf(reason + used, len - used, "%s %s", i ? "," : "", v->choices[i]);
		}
		return -1;
	case ENV_CUSTOM:
		return v->parse(text, v->out, reason, len);
	}
	return -1;
}

int
env_load(const env_var *vars, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const env_var *v = &vars[i];
		char reason[512];
		if (load_one(v, reason, sizeof(reason)) != 0) {
			if (v->kind != ENV_CUSTOM) {
				snprintf(err, errlen, "%s: %s", v->name, reason);
				return -1;
			}
			/* A custom parser says what is wrong after the value, which
			 * is shown as --help shows it. */
			char shown[512];
			if (v->secret_url)
				env_mask_url(value_of(v), shown, sizeof(shown));
			else
				snprintf(shown, sizeof(shown), "%s", value_of(v));
			snprintf(err, errlen, "%s: '%s' %s", v->name, shown, reason);
			return -1;
		}
	}
	return 0;
}

void
env_mask_url(const char *url, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s", url);
	/* scheme://user:password@host/...: the password ends at the last '@'
	 * of the authority, since a password may itself contain '@'. */
	const char *scheme = strstr(url, "://");
	if (scheme != NULL) {
		const char *auth  = scheme + 3;
		size_t auth_len   = strcspn(auth, "/?#");
		const char *at    = NULL;
		for (const char *p = auth; p < auth + auth_len; p++)
			if (*p == '@')
				at = p;
		const char *colon = at != NULL ? memchr(auth, ':', (size_t) (at - auth)) : NULL;
		if (colon != NULL)
			snprintf(out, outlen, "%.*s***%s", (int) (colon + 1 - url), url, at);
	}
	/* password=... in a keyword string or a URL's query. */
	for (char *p = strstr(out, "password="); p != NULL; p = strstr(p + 1, "password=")) {
		char *value = p + strlen("password=");
		size_t n    = strcspn(value, " &");
		if (n > 0 && strncmp(value, "***", 3) != 0 && (size_t) (value - out) + 3 + strlen(value + n) < outlen) {
			memmove(value + 3, value + n, strlen(value + n) + 1);
			memcpy(value, "***", 3);
		}
	}
}

void
env_print_help(FILE *out, const char *program, const char *summary,
    const env_var *vars, size_t n)
{
	fprintf(out, "Usage: %s [--help]\n\n%s\n\nConfiguration (environment variables):\n",
	    program, summary);
	for (size_t i = 0; i < n; i++) {
		const env_var *v = &vars[i];
		char current[512], fallback[512];
		const char *cur = value_of(v);
		if (v->secret_url) {
			env_mask_url(cur, current, sizeof(current));
			env_mask_url(v->default_value, fallback, sizeof(fallback));
		} else {
			snprintf(current, sizeof(current), "%s", cur);
			snprintf(fallback, sizeof(fallback), "%s", v->default_value);
		}
		fprintf(out, "  %-16s %s\n  %-16s   default: %s\n  %-16s   current: %s\n",
		    v->name, v->help, "", fallback, "", current);
	}
}

env_action
env_cli(int argc, char **argv, const char *summary, const env_var *vars, size_t n)
{
	const char *program = argc > 0 ? argv[0] : "program";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			env_print_help(stdout, program, summary, vars, n);
			return ENV_EXIT_OK;
		}
		fprintf(stderr, "%s: unknown argument '%s' (configuration comes from the environment; see --help)\n",
		    program, argv[i]);
		return ENV_EXIT_USAGE;
	}
	char err[512];
	if (env_load(vars, n, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: invalid configuration: %s\n", program, err);
		return ENV_EXIT_USAGE;
	}
	return ENV_RUN;
}

int
env_parse_port_list(const char *text, void *out, char *err, size_t errlen)
{
	env_port_list *list = out;
	list->n             = 0;
	const char *p       = text;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len        = comma != NULL ? (size_t) (comma - p) : strlen(p);
		char item[16];
		if (len == 0 || len >= sizeof(item)) {
			snprintf(err, errlen, "is not a comma-separated list of ports");
			return -1;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		long port;
		char why[128];
		if (parse_long(item, 1, 65535, &port, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "is not a list of ports: %s", why);
			return -1;
		}
		if (list->n == ENV_MAX_PORTS) {
			snprintf(err, errlen, "is not a list of ports: it has more than %d", ENV_MAX_PORTS);
			return -1;
		}
		for (int i = 0; i < list->n; i++) {
			if (list->ports[i] == port) {
				snprintf(err, errlen, "is not a list of ports: %ld is listed twice", port);
				return -1;
			}
		}
		list->ports[list->n++] = (int) port;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

int
env_parse_int(const char *text, long min, long max, long *out, char *err, size_t errlen)
{
	return parse_long(text, min, max, out, err, errlen);
}
