/* Log lines: one per event, request id on each, text or JSON. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

/* Reads what was written to stderr (redirected by Criterion). */
static void
read_stderr(char *buf, size_t len)
{
	fflush(stderr);
	FILE *f  = cr_get_redirected_stderr();
	size_t n = fread(buf, 1, len - 1, f);
	buf[n]   = '\0';
}

Test(log, text_lines_end_with_the_request_id, .init = cr_redirect_stderr)
{
	log_setup("user-svc", LOG_INFO, LOG_TEXT);
	log_info("req-1", "user_created id=%d email=%s", 5, "a@b.co");
	log_warn(NULL, "cache_error op=get");
	char buf[1024];
	read_stderr(buf, sizeof(buf));
	char *second = strchr(buf, '\n');
	cr_assert_not_null(second);
	*second++ = '\0';
	/* 2026-11-25T10:15:00.123Z info  user-svc user_created ... */
	cr_assert_eq(strlen(buf) > 24 && buf[10] == 'T' && buf[23] == 'Z', 1, "timestamp in: %s", buf);
	cr_assert_str_eq(buf + 25, "info  user-svc user_created id=5 email=a@b.co request=req-1");
	cr_assert_str_eq(second + 25, "warn  user-svc cache_error op=get request=-\n");
}

Test(log, lines_below_the_threshold_are_not_written_nor_evaluated, .init = cr_redirect_stderr)
{
	log_setup("svc", LOG_WARN, LOG_TEXT);
	int evaluated = 0;
	log_info("r", "x=%d", ++evaluated);
	log_debug("r", "x=%d", ++evaluated);
	cr_assert_eq(evaluated, 0);
	char buf[64];
	read_stderr(buf, sizeof(buf));
	cr_assert_str_eq(buf, "");
}

Test(log, json_lines_escape_their_text, .init = cr_redirect_stderr)
{
	log_setup("gw", LOG_DEBUG, LOG_JSON);
	log_error("r\"2", "bad_input text=\"a\\b\"\n");
	char buf[1024];
	read_stderr(buf, sizeof(buf));
	const char *rest = strstr(buf, "\"level\"");
	cr_assert_not_null(rest, "%s", buf);
	cr_assert_str_eq(rest, "\"level\":\"error\",\"service\":\"gw\",\"msg\":\"bad_input text=\\\"a\\\\b\\\" \","
	                       "\"request\":\"r\\\"2\"}\n");
}

Test(log, outside_text_cannot_forge_a_line, .init = cr_redirect_stderr)
{
	log_setup("svc", LOG_INFO, LOG_TEXT);
	log_warn("r\n2026 error svc forged", "rpc_unimplemented method=%s", "x\n2026-11-25 error svc forged_line");
	char buf[1024];
	read_stderr(buf, sizeof(buf));
	cr_assert_eq(strchr(buf, '\n'), buf + strlen(buf) - 1, "one line: %s", buf);
}

Test(log, long_json_lines_stay_valid_json, .init = cr_redirect_stderr)
{
	log_setup("svc", LOG_INFO, LOG_JSON);
	char quotes[3001];
	memset(quotes, '"', 3000);
	quotes[3000] = '\0';
	log_info("rid-7", "big text=%s", quotes);
	char buf[8192];
	read_stderr(buf, sizeof(buf));
	const char tail[] = "\",\"request\":\"rid-7\"}\n";
	size_t n          = strlen(buf);
	cr_assert(n > sizeof(tail) && strcmp(buf + n - (sizeof(tail) - 1), tail) == 0, "ends with the request: %s",
	    buf + n - 40);
}

Test(log, levels_and_formats_parse_strictly)
{
	log_level l;
	log_format f;
	cr_assert_eq(log_level_parse("warn", &l), 0);
	cr_assert_eq(l, LOG_WARN);
	cr_assert_eq(log_level_parse("WARN", &l), -1);
	cr_assert_eq(log_format_parse("json", &f), 0);
	cr_assert_eq(f, LOG_JSON);
	cr_assert_eq(log_format_parse("yaml", &f), -1);
}
