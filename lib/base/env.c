/* env.h: the only place that reads the environment. */
#define _GNU_SOURCE /* memmem */
#include "base/env.h"

#include "base/file_read.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Where a variable's value comes from, and how messages name it. */
typedef struct env_source {
	const char *text; /* the environment's value, a file's content or the default */
	const char *path; /* NAME_FILE's path when text came from it, else NULL */
	char label[400];  /* "NAME", or "NAME (from NAME_FILE='path...')" */
} env_source;

/* Values read from files, kept for the process's life: ENV_STRING and the
 * parsers store pointers into them. Held from a static root, so they are
 * reachable, not leaks. */
typedef struct env_held {
	struct env_held *next;
	char text[];
} env_held;
static env_held *held_values;

/* Reads the secret file path named by file_var into a held value (the
 * rules: env.h). Returns 0 with *out set, or -1 with "FILE_VAR: reason" in
 * err; never quotes the content. */
static int
read_secret_file(const char *file_var, const char *path, const char **out, char *err, size_t errlen)
{
	if (path[0] == '\0') {
		snprintf(
		    err, errlen, "%s: is empty: set it to the path of a file holding the value, or unset it", file_var);
		return -1;
	}
	char *buf;
	size_t n;
	int err_no = 0;
	switch (file_read_regular(path, ENV_FILE_MAX, &buf, &n, &err_no)) {
	case FILE_READ_OK: break;
	case FILE_READ_CANNOT_OPEN:
		snprintf(err, errlen, "%s: cannot open '%s': %s", file_var, path, strerror(err_no));
		return -1;
	case FILE_READ_NOT_REGULAR: snprintf(err, errlen, "%s: '%s' is not a regular file", file_var, path); return -1;
	case FILE_READ_TOO_LARGE:
		snprintf(err, errlen, "%s: '%s' is larger than %d bytes", file_var, path, ENV_FILE_MAX);
		return -1;
	case FILE_READ_CANNOT_READ:
		snprintf(err, errlen, "%s: cannot read '%s': %s", file_var, path, strerror(err_no));
		return -1;
	case FILE_READ_NO_MEMORY: snprintf(err, errlen, "%s: out of memory reading '%s'", file_var, path); return -1;
	}
	const char *wrong = NULL;
	if (n == 0)
		wrong = "is empty";
	else if (n == 1 && buf[0] == '\n')
		wrong = "holds only a newline";
	else if (memchr(buf, '\0', n) != NULL)
		wrong = "holds a NUL byte";
	else if (memchr(buf, '\n', n - 1) != NULL)
		wrong = "holds more than one line (only one trailing newline is removed)";
	else if (memchr(buf, '\r', n) != NULL)
		wrong = "holds a carriage return (CRLF line ends?)";
	if (wrong != NULL) {
		snprintf(err, errlen, "%s: '%s' %s", file_var, path, wrong);
		free(buf);
		return -1;
	}
	if (buf[n - 1] == '\n')
		n--; /* the one trailing newline echo and editors add */
	env_held *h = malloc(sizeof(*h) + n + 1);
	if (h == NULL) {
		snprintf(err, errlen, "%s: out of memory reading '%s'", file_var, path);
		free(buf);
		return -1;
	}
	memcpy(h->text, buf, n);
	h->text[n] = '\0';
	free(buf);
	h->next     = held_values;
	held_values = h;
	*out        = h->text;
	return 0;
}

/* The value of v: NAME, NAME_FILE for a secret, or the default. Returns 0,
 * or -1 with a whole message ("NAME_FILE: ...") in err. */
static int
source_of(const env_var *v, env_source *src, char *err, size_t errlen)
{
	const char *s = getenv(v->name);
	src->text     = s != NULL ? s : v->default_value;
	src->path     = NULL;
	snprintf(src->label, sizeof(src->label), "%s", v->name);
	if (!v->secret_url)
		return 0;
	char file_var[128];
	snprintf(file_var, sizeof(file_var), "%s%s", v->name, ENV_FILE_SUFFIX);
	const char *path = getenv(file_var);
	if (path == NULL)
		return 0;
	if (s != NULL) {
		snprintf(err, errlen, "%s and %s are both set: set only one of them", v->name, file_var);
		return -1;
	}
	if (read_secret_file(file_var, path, &src->text, err, errlen) != 0)
		return -1;
	src->path = path;
	/* A long path is shortened so that the reason after it survives. */
	int len = snprintf(src->label, sizeof(src->label), "%s (from %s='%.200s%s')", v->name, file_var, path,
	    strlen(path) > 200 ? "..." : "");
	(void) len; /* a longer name is cut: the label stays a label */
	return 0;
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
load_one(const env_var *v, const char *text, char *reason, size_t len)
{
	switch (v->kind) {
	case ENV_STRING:
		if (text[0] == '\0' && !v->may_be_empty) {
			snprintf(reason, len, "must not be empty");
			return -1;
		}
		*(const char **) v->out = text;
		return 0;
	case ENV_INT: return parse_long(text, v->min, v->max, (long *) v->out, reason, len);
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
	case ENV_CUSTOM: return v->parse(text, v->out, reason, len);
	}
	return -1;
}

int
env_load(const env_var *vars, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const env_var *v = &vars[i];
		env_source src;
		if (source_of(v, &src, err, errlen) != 0)
			return -1;
		char reason[512];
		if (load_one(v, src.text, reason, sizeof(reason)) != 0) {
			if (v->kind != ENV_CUSTOM) {
				snprintf(err, errlen, "%s: %s", src.label, reason);
				return -1;
			}
			/* A custom parser says what is wrong after the value, which
			 * is shown as --help shows it. */
			char shown[512];
			if (v->secret_url) {
				env_mask_url(src.text, shown, sizeof(shown));
				env_scrub(reason, sizeof(reason), src.text); /* it may quote a part */
			} else {
				snprintf(shown, sizeof(shown), "%s", src.text);
			}
			/* A long value is shortened, never the reason after it. */
			if (strlen(shown) > 160)
				memcpy(shown + 157, "...", 4);
			snprintf(err, errlen, "%s: '%s' %s", src.label, shown, reason);
			return -1;
		}
	}
	return 0;
}

/* A key=value pair at text[i] (i at the key's first byte): returns the
 * value's span through *value when the key, %-decoded, is "password". */
static bool
password_pair(const char *text, size_t i, env_span *value)
{
	char key[16];
	size_t k = 0, p = i;
	while (k <= 8 && text[p] != '\0' && (isalnum((unsigned char) text[p]) || text[p] == '_' || text[p] == '%')) {
		char c = text[p];
		if (c == '%' && isxdigit((unsigned char) text[p + 1]) && isxdigit((unsigned char) text[p + 2])) {
			char hex[3] = {text[p + 1], text[p + 2], '\0'};
			c           = (char) strtol(hex, NULL, 16);
			p += 2;
		}
		if (k + 1 < sizeof(key))
			key[k] = c;
		k++;
		p++;
	}
	if (k != 8 || strncmp(key, "password", 8) != 0 || isalnum((unsigned char) text[p]) || text[p] == '_' ||
	    text[p] == '%')
		return false; /* a longer key ("password2") is another key */
	/* White space as libpq's conninfo_parse reads it: isspace(), so
	 * "password=\v\tsecret" is "secret" too (found by fuzz_config). */
	while (isspace((unsigned char) text[p]))
		p++;
	if (text[p] != '=')
		return false;
	p++;
	while (isspace((unsigned char) text[p]))
		p++;
	size_t v = p;
	if (text[p] == '\'') {
		for (p++; text[p] != '\0' && text[p] != '\''; p++)
			if (text[p] == '\\' && text[p + 1] != '\0')
				p++;
		if (text[p] == '\'')
			p++;
	} else {
		while (text[p] != '\0' && !isspace((unsigned char) text[p]) && text[p] != '&')
			p++;
	}
	*value = (env_span){v, p - v};
	return p > v;
}

/* Where the element of a list of URLs that starts at el ends: at a ','
 * followed by a scheme (RFC 3986 3.1: ALPHA *( ALPHA / DIGIT / "+" / "-"
 * / "." )) and "://", or at the end of the text. */
static const char *
url_element_end(const char *el)
{
	for (const char *p = strchr(el, ','); p != NULL; p = strchr(p + 1, ',')) {
		const char *q = p + 1;
		if (!isalpha((unsigned char) *q))
			continue;
		while (isalnum((unsigned char) *q) || *q == '+' || *q == '-' || *q == '.')
			q++;
		if (strncmp(q, "://", 3) == 0)
			return p;
	}
	return el + strlen(el);
}

/* The first "://" in [el, end), or NULL. */
static const char *
scheme_in(const char *el, const char *end)
{
	const char *s = strstr(el, "://");
	return s != NULL && s + 3 <= end ? s : NULL;
}

/* Whether the element [el, end) has a ':' after its "://" with no '@'
 * after it: a password may run on past the ',' (one that holds
 * ",amqp://"), so the element is read together with the next. */
static bool
url_element_open(const char *el, const char *end)
{
	const char *scheme = scheme_in(el, end);
	const char *colon  = scheme != NULL ? memchr(scheme + 3, ':', (size_t) (end - scheme - 3)) : NULL;
	return colon != NULL && memchr(colon, '@', (size_t) (end - colon)) == NULL;
}

/* Adds span to spans[0..*n) unless it is there already. With max spans
 * taken, the last grows to the end of the text: more is masked, never
 * less. */
static void
add_span(const char *text, env_span *spans, size_t *n, size_t max, env_span span)
{
	for (size_t i = 0; i < *n; i++)
		if (spans[i].at == span.at && spans[i].len == span.len)
			return;
	if (*n < max) {
		spans[(*n)++] = span;
	} else if (max > 0) {
		size_t at      = spans[max - 1].at < span.at ? spans[max - 1].at : span.at;
		spans[max - 1] = (env_span){at, strlen(text) - at};
	}
}

/* The password spans of a redis-sentinel:// URL whose authority is
 * [auth, aend), as svc/sentinel.c reads it: a list of sentinels split at
 * ',', the password ending at a sentinel's '@' (the first's; an '@' in a
 * later one is refused, and masked here too). A sentinel's user
 * information runs from its ':' (or, with none, from the authority's first
 * ':', a password holding a raw ',') to its last '@'; the sentinels around
 * stay shown, so a refusal naming "sentinel 2" shows it. False when the
 * URL is not that (then the general rule masks it). */
static bool
sentinel_spans(
    const char *text, const char *el, const char *scheme, const char *end, env_span *spans, size_t *n, size_t max)
{
	static const char name[] = "redis-sentinel";
	const char *auth = scheme + 3, *aend = auth;
	if ((size_t) (scheme - el) != sizeof(name) - 1 || strncasecmp(el, name, sizeof(name) - 1) != 0)
		return false;
	while (aend < end && strchr("/?#", *aend) == NULL)
		aend++;
	if (memchr(aend, '@', (size_t) (end - aend)) != NULL)
		return false; /* a password cut by '/', '?' or '#': refused, masked widely */
	const char *first_colon = memchr(auth, ':', (size_t) (aend - auth));
	size_t first            = *n; /* the spans of this URL start there */
	for (const char *q = auth; q < aend;) {
		const char *pe = memchr(q, ',', (size_t) (aend - q)), *at = NULL;
		pe = pe != NULL ? pe : aend;
		for (const char *r = q; r < pe; r++)
			if (*r == '@')
				at = r;
		if (at != NULL) {
			const char *colon = memchr(q, ':', (size_t) (at - q));
			const char *from  = colon != NULL                            ? colon + 1
			                    : first_colon != NULL && first_colon < q ? first_colon + 1
			                                                             : q;
			if (at > from)
				add_span(text, spans, n, max, (env_span){(size_t) (from - text), (size_t) (at - from)});
		}
		q = pe + 1;
	}
	/* A refused URL may read otherwise: a reader of URIs takes the
	 * password from the authority's first ':' to its last '@'. Should
	 * the sentinels' spans leave that whole (":@x:,y:@h"), it is masked
	 * as such. */
	const char *last = NULL, *colon = NULL;
	for (const char *r = auth; r < aend; r++)
		if (*r == '@')
			last = r;
	colon = last != NULL ? memchr(auth, ':', (size_t) (last - auth)) : NULL;
	if (colon != NULL && last > colon + 1) {
		env_span uri = {(size_t) (colon + 1 - text), (size_t) (last - colon - 1)};
		bool cut     = false;
		for (size_t i = first; i < *n && !cut; i++)
			cut = spans[i].at < uri.at + uri.len && spans[i].at + spans[i].len > uri.at;
		if (!cut)
			add_span(text, spans, n, max, uri);
	}
	return true;
}

/* The password spans of the URL [el, end): the password ends at an '@'
 * after the first ':': the first one (libpq), the authority's last
 * (librabbitmq, ours), or the element's last; each gives a span, the
 * last the widest. A Sentinel URL has its own (sentinel_spans). */
static void
url_element_spans(const char *text, const char *el, const char *end, env_span *spans, size_t *n, size_t max)
{
	const char *scheme = scheme_in(el, end);
	if (scheme == NULL || sentinel_spans(text, el, scheme, end, spans, n, max))
		return;
	const char *auth = scheme + 3, *last = NULL;
	for (const char *q = auth; q < end; q++)
		if (*q == '@')
			last = q;
	const char *colon   = last != NULL ? memchr(auth, ':', (size_t) (last - auth)) : NULL;
	const char *ends[3] = {NULL, NULL, last};
	if (colon != NULL) {
		ends[0] = memchr(colon + 1, '@', (size_t) (end - colon - 1));
		for (const char *q = colon + 1; q < end && strchr("/?#", *q) == NULL; q++)
			if (*q == '@')
				ends[1] = q;
	}
	for (int e = 0; e < 3 && colon != NULL; e++)
		if (ends[e] != NULL && ends[e] > colon + 1)
			add_span(text, spans, n, max,
			    (env_span){(size_t) (colon + 1 - text), (size_t) (ends[e] - colon - 1)});
}

size_t
env_secret_spans(const char *text, env_span *spans, size_t max)
{
	size_t n           = 0;
	const char *scheme = strstr(text, "://");
	/* Neither a URL nor key=value pairs: nothing tells where a password
	 * would be, and a secret's value of that shape is most likely one on
	 * its own (a file holding only the password, the Docker habit). The
	 * whole text is the secret. */
	if (scheme == NULL && strchr(text, '=') == NULL) {
		if (text[0] != '\0' && max > 0)
			spans[n++] = (env_span){0, strlen(text)};
		return n;
	}
	/* A list of URLs (AMQP_URL: "amqp://u:p1@h1/,amqp://u:p2@h2/"), each
	 * element on its own, so a message about one shows which it is: every
	 * parser ends an authority at the '/' of the next "scheme://", so no
	 * password runs past it, save one an element leaves open. */
	for (const char *el = text; scheme != NULL && *el != '\0';) {
		const char *end = url_element_end(el);
		while (*end != '\0' && url_element_open(el, end))
			end = url_element_end(end + 1);
		url_element_spans(text, el, end, spans, &n, max);
		el = *end != '\0' ? end + 1 : end;
	}
	/* Wherever a key could start, not only after white space, '?' or '&':
	 * what precedes it may be a byte libpq reads otherwise than we do. */
	for (size_t i = 0; text[i] != '\0'; i++) {
		env_span value;
		if ((text[i] != 'p' && text[i] != '%') || !password_pair(text, i, &value))
			continue; /* a key "password" starts with 'p', or with its %-escape */
		add_span(text, spans, &n, max, value);
		/* Read unquoted too, to white space or '&', as a simpler parser
		 * (or a quote libpq takes otherwise) would. */
		size_t plain = strcspn(text + value.at, " \t&");
		if (plain != value.len && plain > 0)
			add_span(text, spans, &n, max, (env_span){value.at, plain});
	}
	return n;
}

void
env_mask_url(const char *url, char *out, size_t outlen)
{
	env_span spans[ENV_SPANS_MAX];
	size_t n = env_secret_spans(url, spans, ENV_SPANS_MAX), o = 0;
	for (size_t i = 0; url[i] != '\0' && o + 1 < outlen;) {
		size_t k = 0;
		while (k < n && !(i >= spans[k].at && i < spans[k].at + spans[k].len))
			k++;
		if (k == n) {
			out[o++] = url[i++];
			continue;
		}
		size_t end = spans[k].at + spans[k].len; /* spans may overlap: skip to the furthest */
		for (size_t j = 0; j < n; j++)
			if (spans[j].at <= end && spans[j].at + spans[j].len > end)
				end = spans[j].at + spans[j].len;
		for (const char *m = "***"; *m != '\0' && o + 1 < outlen; m++)
			out[o++] = *m;
		i = end;
	}
	if (outlen > 0)
		out[o < outlen ? o : outlen - 1] = '\0';
}

/* True when the n bytes at q are part of secret: a quoted part a parser
 * split off it. (A piece inside a longer quote is found by piece_at.) */
static bool
part_of_secret(const char *q, size_t n, const char *secret, size_t len)
{
	return n > 0 && memmem(secret, len, q, n) != NULL;
}

/* The length of the longest piece of secret (split at the separators a
 * parser may have split it at: '@', '/', '?', '#', ':'; 2 bytes or more)
 * that p starts with, or 0. */
static size_t
piece_at(const char *p, const char *secret, size_t len)
{
	size_t best = 0;
	if (memchr(secret, *p, len) == NULL)
		return 0; /* the common case, found at once */
	for (size_t a = 0; a < len;) {
		size_t b = a;
		while (b < len && strchr("@/?#:", secret[b]) == NULL)
			b++;
		if (b - a >= 2 && b - a > best && strncmp(p, secret + a, b - a) == 0)
			best = b - a;
		a = b + 1;
	}
	return best;
}

void
env_scrub(char *msg, size_t msglen, const char *text)
{
	env_span spans[ENV_SPANS_MAX];
	size_t n = env_secret_spans(text, spans, ENV_SPANS_MAX);
	char out[1024];
	/* A text that is all secret (no URL, no key=value: env_secret_spans)
	 * may be a short word that the reason's own words contain ("on" in
	 * "connection"): only its quoted occurrences, as parsers quote a value,
	 * are taken out. */
	bool whole = n == 1 && spans[0].at == 0 && spans[0].len == strlen(text) && strstr(text, "://") == NULL &&
	             strchr(text, '=') == NULL;
	if (whole) {
		size_t len = spans[0].len, o = 0;
		for (const char *p = msg; *p != '\0' && o + 6 < sizeof(out);) {
			if ((*p == '"' || *p == '\'') && strncmp(p + 1, text, len) == 0 && p[1 + len] == *p) {
				out[o++] = *p;
				memcpy(out + o, "***", 3), o += 3;
				out[o++] = *p;
				p += len + 2;
			} else {
				out[o++] = *p++;
			}
		}
		out[o] = '\0';
		snprintf(msg, msglen, "%s", out);
		return;
	}
	for (size_t k = 0; k < n; k++) {
		const char *secret = text + spans[k].at;
		size_t len = spans[k].len, o = 0;
		for (const char *p = msg; *p != '\0' && o + 4 < sizeof(out);) {
			const char *close = (*p == '\'' || *p == '"') ? strchr(p + 1, *p) : NULL;
			size_t piece      = piece_at(p, secret, len);
			if (strncmp(p, secret, len) == 0) {
				memcpy(out + o, "***", 3), o += 3, p += len;
			} else if (piece > 0) {
				memcpy(out + o, "***", 3), o += 3, p += piece;
			} else if (close != NULL && strncmp(close, secret, len) != 0 &&
			           part_of_secret(p + 1, (size_t) (close - p - 1), secret, len)) {
				/* (A closing quote that starts the secret itself, as in
				 * host 'password='p...', is left to the exact match.) */
				out[o++] = *p;
				memcpy(out + o, "***", 3), o += 3;
				out[o++] = *close;
				p        = close + 1;
			} else {
				out[o++] = *p++;
			}
		}
		out[o] = '\0';
		snprintf(msg, msglen, "%s", out);
	}
}

void
env_print_help(FILE *out, const char *program, const char *summary, const env_var *vars, size_t n)
{
	fprintf(out, "Usage: %s [--help]\n\n%s\n\nConfiguration (environment variables):\n", program, summary);
	for (size_t i = 0; i < n; i++) {
		const env_var *v = &vars[i];
		char current[700], fallback[512];
		env_source src;
		char why[600];
		if (source_of(v, &src, why, sizeof(why)) != 0) {
			snprintf(current, sizeof(current), "(unusable: %s)", why);
		} else if (v->secret_url) {
			env_mask_url(src.text, current, sizeof(current));
		} else {
			snprintf(current, sizeof(current), "%s", src.text);
		}
		if (v->secret_url)
			env_mask_url(v->default_value, fallback, sizeof(fallback));
		else
			snprintf(fallback, sizeof(fallback), "%s", v->default_value);
		fprintf(out, "  %-16s %s\n  %-16s   default: %s\n  %-16s   current: %s%s\n", v->name, v->help, "",
		    fallback, "", current, src.path != NULL ? " (from the file)" : "");
		if (v->secret_url) {
			char file_var[128];
			snprintf(file_var, sizeof(file_var), "%s%s", v->name, ENV_FILE_SUFFIX);
			const char *path = getenv(file_var);
			fprintf(out,
			    "  %-16s file holding %s's value instead (Docker/Kubernetes secrets); one trailing newline "
			    "is removed\n  %-16s   current: %s%s%s\n",
			    file_var, v->name, "", path != NULL ? "'" : "(unset)", path != NULL ? path : "",
			    path != NULL ? "'" : "");
		}
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
