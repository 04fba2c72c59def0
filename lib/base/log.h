/* Logging: one line per event, "event key=value ... request=ID", as text or
 * JSON, written to stderr with a single write so threads never interleave. */
#ifndef BASE_LOG_H
#define BASE_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum log_level {
	LOG_DEBUG = 0,
	LOG_INFO  = 1,
	LOG_WARN  = 2,
	LOG_ERROR = 3,
} log_level;

typedef enum log_format {
	LOG_TEXT = 0,
	LOG_JSON = 1,
} log_format;

/* Sets the program name shown on each line, the lowest level written and
 * the format. Call once from main before threads start; until then lines
 * are written at info and above, as text. */
void log_setup(const char *program, log_level threshold, log_format format);

/* The names, in enum order and NULL-terminated, for ENV_CHOICE tables. */
extern const char *const log_level_names[];
extern const char *const log_format_names[];

/* Parses "debug", "info", "warn", "error" / "text", "json"; -1 if unknown. */
int log_level_parse(const char *text, log_level *out);
int log_format_parse(const char *text, log_format *out);

bool log_enabled(log_level level);

/* Copies in to out (len bytes, cut when longer) as the inside of a quoted
 * field, key="...": a backslash before each '"' and '\\', so text from
 * elsewhere (libpq's messages quote host names) cannot end the field early.
 * Thread-safe. */
void log_quote(const char *in, char *out, size_t len);

/* Writes one line. request_id may be NULL ("-" is written). The message is
 * an event name followed by key=value pairs. Thread-safe. */
void log_write(log_level level, const char *request_id, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The level is tested before the arguments are evaluated. */
#define log_debug(rid, ...)                                                                                            \
	do {                                                                                                           \
		if (log_enabled(LOG_DEBUG))                                                                            \
			log_write(LOG_DEBUG, rid, __VA_ARGS__);                                                        \
	} while (0)
#define log_info(rid, ...)                                                                                             \
	do {                                                                                                           \
		if (log_enabled(LOG_INFO))                                                                             \
			log_write(LOG_INFO, rid, __VA_ARGS__);                                                         \
	} while (0)
#define log_warn(rid, ...)                                                                                             \
	do {                                                                                                           \
		if (log_enabled(LOG_WARN))                                                                             \
			log_write(LOG_WARN, rid, __VA_ARGS__);                                                         \
	} while (0)
#define log_error(rid, ...)                                                                                            \
	do {                                                                                                           \
		if (log_enabled(LOG_ERROR))                                                                            \
			log_write(LOG_ERROR, rid, __VA_ARGS__);                                                        \
	} while (0)

#endif
