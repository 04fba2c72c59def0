/* Line formatting and output for log.h. */
#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/utf8.h"

#define LOG_LINE_MAX 4096

static const char *log_program   = "-";
static _Atomic int log_threshold = LOG_INFO;
static log_format log_fmt        = LOG_TEXT;

const char *const log_level_names[]  = {"debug", "info", "warn", "error", NULL};
const char *const log_format_names[] = {"text", "json", NULL};
#define level_names log_level_names

void
log_setup(const char *program, log_level threshold, log_format format)
{
	log_program = program;
	log_fmt     = format;
	atomic_store(&log_threshold, (int) threshold);
}

int
log_level_parse(const char *text, log_level *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(text, level_names[i]) == 0) {
			*out = (log_level) i;
			return 0;
		}
	}
	return -1;
}

int
log_format_parse(const char *text, log_format *out)
{
	if (strcmp(text, "text") == 0)
		*out = LOG_TEXT;
	else if (strcmp(text, "json") == 0)
		*out = LOG_JSON;
	else
		return -1;
	return 0;
}

bool
log_enabled(log_level level)
{
	return (int) level >= atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

/* Appends s to buf[*len..cap) as the inside of a JSON string. */
static void
append_json_escaped(char *buf, size_t *len, size_t cap, const char *s)
{
	for (; *s != '\0' && *len + 7 < cap; s++) {
		unsigned char c = (unsigned char) *s;
		if (c == '"' || c == '\\') {
			buf[(*len)++] = '\\';
			buf[(*len)++] = (char) c;
		} else if (c < 0x20) {
			*len += (size_t) snprintf(buf + *len, cap - *len, "\\u%04x", c);
		} else {
			buf[(*len)++] = (char) c;
		}
	}
}

void
log_quote(const char *in, char *out, size_t len)
{
	size_t used = 0;
	for (; *in != '\0' && used + 2 < len; in++) {
		if (*in == '"' || *in == '\\')
			out[used++] = '\\';
		out[used++] = *in;
	}
	if (len > 0)
		out[used < len ? used : len - 1] = '\0';
}

static void append(char *buf, size_t *len, size_t cap, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
append(char *buf, size_t *len, size_t cap, const char *fmt, ...)
{
	if (*len >= cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = *len + (size_t) n < cap ? *len + (size_t) n : cap - 1;
}

void
log_write(log_level level, const char *request_id, const char *fmt, ...)
{
	char message[LOG_LINE_MAX / 2];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);

	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct tm tm;
	gmtime_r(&now.tv_sec, &tm);
	char stamp[32];
	size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + n, sizeof(stamp) - n, ".%03ldZ", now.tv_nsec / 1000000);

	/* Text that came from outside (a method name, a request id) must not
	 * forge lines or break a log pipeline: one line, valid UTF-8. */
	char clean[sizeof(message)], rid[160];
	utf8_sanitize(message, clean, sizeof(clean));
	utf8_sanitize(request_id != NULL && request_id[0] != '\0' ? request_id : "-", rid, sizeof(rid));
	char line[LOG_LINE_MAX];
	size_t len = 0;
	if (log_fmt == LOG_JSON) {
		/* The message may be cut, never the closing fields. */
		char tail[sizeof(rid) * 6 + 32];
		size_t tail_len = 0;
		append(tail, &tail_len, sizeof(tail), "\",\"request\":\"");
		append_json_escaped(tail, &tail_len, sizeof(tail), rid);
		append(tail, &tail_len, sizeof(tail), "\"}");
		append(line, &len, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"service\":\"", stamp,
		    level_names[level]);
		append_json_escaped(line, &len, sizeof(line), log_program);
		append(line, &len, sizeof(line), "\",\"msg\":\"");
		append_json_escaped(line, &len, sizeof(line) - tail_len - 2, clean);
		line[len] = '\0';
		utf8_trim_partial(line);
		len = strlen(line);
		append(line, &len, sizeof(line), "%s", tail);
	} else {
		append(line, &len, sizeof(line), "%s %-5s %s %s request=%s", stamp, level_names[level], log_program,
		    clean, rid);
	}
	if (len >= sizeof(line) - 1)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* One write per line: concurrent threads never interleave within it. */
	ssize_t unused = write(STDERR_FILENO, line, len);
	(void) unused;
}
