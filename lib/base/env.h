/* Strict configuration from environment variables. Each binary's config.c
 * declares a table of env_var; env_load fills it or explains what is wrong,
 * env_print_help lists each variable with its default and current value.
 *
 * Secrets from files (the Docker/Kubernetes secrets convention): a variable
 * marked secret_url may instead be given as NAME_FILE, the path of a file
 * whose content is the value. Exactly one trailing "\n" (LF) is removed,
 * the one `echo`, editors and POSIX text files end with; nothing else is
 * trimmed (a password may end in a space). Refused, naming NAME_FILE and
 * the path and never the content: NAME and NAME_FILE both set (naming
 * both), an empty NAME_FILE, a path that cannot be opened or read, or that
 * is not a regular file (a FIFO or a terminal could block start-up), a file
 * over ENV_FILE_MAX bytes, an empty one (or a lone newline), and one holding
 * a NUL byte, a further LF or any CR (a value cannot span lines; a CRLF
 * file is refused rather than guessed at). The value read is then checked
 * exactly as NAME's would be, by the same parser, with the same messages,
 * masked the same way, and reported as "NAME (from NAME_FILE='path'): ...". */
#ifndef BASE_ENV_H
#define BASE_ENV_H

#include <stddef.h>
#include <stdio.h>

typedef enum env_kind {
	ENV_STRING, /* out: const char ** (points into the environment or default) */
	ENV_INT,    /* out: long *, within [min, max] */
	ENV_CHOICE, /* out: int *, index into choices */
	ENV_CUSTOM, /* out: whatever parse fills */
} env_kind;

/* A custom parser: 0 and *out filled, or -1 with a reason in err that reads
 * after the quoted value: env_load reports "NAME: 'value' reason", the
 * value masked as --help masks it when secret_url is set. The reason must
 * not repeat a password. Parsers for network settings: net_check.h
 * (GATEWAY_BIND, nng URLs), db.h (libpq), cache.h (Redis), broker.h (AMQP). */
typedef int (*env_parser)(const char *text, void *out, char *err, size_t errlen);

typedef struct env_var {
	const char *name;
	const char *default_value;
	const char *help;
	env_kind kind;
	void *out;
	long min, max;              /* ENV_INT */
	const char *const *choices; /* ENV_CHOICE, NULL-terminated */
	env_parser parse;           /* ENV_CUSTOM */
	int secret_url;             /* a secret: password masked in --help and in
	                             * messages; NAME_FILE accepted (above) */
	int may_be_empty;           /* ENV_STRING: "" is a valid value */
} env_var;

/* What env_cli tells main to do. */
typedef enum env_action {
	ENV_RUN,        /* configuration loaded: start */
	ENV_EXIT_OK,    /* --help was printed */
	ENV_EXIT_USAGE, /* bad argument or bad value; the reason was printed */
} env_action;

/* The suffix of a secret's file variant, and the largest file read: far
 * more than any URL or connection string, small enough that a wrong path
 * (a log, a disk image) is refused at once instead of read into memory. */
#define ENV_FILE_SUFFIX "_FILE"
#define ENV_FILE_MAX 65536

/* Loads every variable from the environment, a secret's file (NAME_FILE) or
 * its default. Returns 0, or -1 with "NAME: reason" in err for the first bad
 * value. A value read from a file is kept for the process's life (the
 * variables' out may point into it). Not thread-safe: start-up only. */
int env_load(const env_var *vars, size_t n, char *err, size_t errlen);

/* Handles the command line (only --help/-h are accepted), then env_load.
 * Messages go to stdout (help) or stderr (errors). --help lists each
 * secret's NAME_FILE after it, and shows a value read from a file masked
 * like any other, or the reason it cannot be read. */
env_action env_cli(int argc, char **argv, const char *summary, const env_var *vars, size_t n);

void env_print_help(FILE *out, const char *program, const char *summary, const env_var *vars, size_t n);

/* The byte ranges of text that libpq, librabbitmq or the Redis parser could
 * read as a password, read generously (a masked value may hide more than
 * the password, never less):
 *   - in a URL, from the first ':' after "scheme://" to the last '@' (libpq
 *     ends the user information at the first '@' or '/', librabbitmq and
 *     ours at the last '@' of the authority); in a list of URLs (each
 *     element after a ',' that a "scheme://" follows: AMQP_URL), within
 *     each element, so a message shows which element it is about (an
 *     element with a ':' after its "://" and no '@' after that is read with
 *     the next: a password with ",amqp://" in it stays hidden); a list of
 *     hosts in one URL (redis-sentinel://:pw@h1,h2, libpq's h1,h2) is one
 *     URL;
 *   - the value of every key=value pair whose key, %-decoded, is
 *     "password": at the start, after white space, '?' or '&', white space
 *     allowed around '=' (libpq's keyword form), the value quoted ('...',
 *     with backslash escapes) or running to white space or '&';
 *   - the whole text when it is neither a URL nor holds a '=': nothing
 *     locates a password in it, and it may be one on its own (a *_FILE
 *     holding only the password).
 * Fills at most max spans, distinct ones (ENV_SPANS_MAX holds a list of 16
 * URLs); when there are more, the last runs to the end of the text.
 * Returns how many there are. */
typedef struct env_span {
	size_t at, len;
} env_span;
#define ENV_SPANS_MAX 64
size_t env_secret_spans(const char *text, env_span *spans, size_t max);

/* Copies url to out with every env_secret_spans range replaced by "***". */
void env_mask_url(const char *url, char *out, size_t outlen);

/* Scrubs a message about text (a library's error, a reason) in place: every
 * copy of a password of text becomes "***", and so does every piece of one
 * (the password split at '@', '/', '?', '#' or ':', 2 bytes or more) and
 * every quoted part ('...' or "...") that holds one or is part of one,
 * since a parser may have split the password there and quoted a part. A
 * message may lose words to this, never a password. */
void env_scrub(char *msg, size_t msglen, const char *text);

/* ENV_CUSTOM parser for a comma-separated list of TCP ports; out is an
 * env_port_list. */
#define ENV_MAX_PORTS 8
typedef struct env_port_list {
	int n;
	int ports[ENV_MAX_PORTS];
} env_port_list;
int env_parse_port_list(const char *text, void *out, char *err, size_t errlen);

/* ENV_INT's check, for options that do not come from the environment
 * (rpc-call's): digits with an optional '-', within [min, max]. Returns 0
 * or -1 with "'x' is not an integer" or "x is out of range [min, max]". */
int env_parse_int(const char *text, long min, long max, long *out, char *err, size_t errlen);

#endif
