/* order_helpers.h */
#include "order_helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "procs.h"
#include "svc/broker.h"
#include "svc/topology.h"

long long
helpers_create_user(char *email_out, size_t len)
{
	char email[96], body[256];
	stack_unique(email, sizeof(email), "buyer-");
	strcat(email, "@example.com");
	snprintf(body, sizeof(body), "{\"name\":\"Buyer\",\"email\":\"%s\"}", email);
	http_response r;
	stack_http("POST", "/users", (const char *const[]){"Content-Type: application/json", NULL}, body, &r);
	cr_assert_eq(r.status, 201, "creating a user: %ld %s", r.status, r.body);
	long long id = json_integer_value(json_object_get(r.json, "id"));
	http_response_free(&r);
	if (email_out != NULL)
		snprintf(email_out, len, "%s", email);
	return id;
}

long
helpers_post_order(const char *body, const char *const *extra, http_response *r)
{
	const char *headers[8] = {"Content-Type: application/json"};
	size_t n               = 1;
	for (size_t i = 0; extra != NULL && extra[i] != NULL && n < 7; i++)
		headers[n++] = extra[i];
	headers[n] = NULL;
	return stack_http("POST", "/orders", headers, body, r);
}

int
helpers_log_count(const char *needle)
{
	return (int) procs_log_count(stack_order_log(), needle);
}

int
helpers_wait_log(const char *needle, int times, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 50) {
		int n = helpers_log_count(needle);
		if (n >= times)
			return n;
		nanosleep(&(struct timespec){.tv_nsec = 50 * 1000000L}, NULL);
	}
	return helpers_log_count(needle);
}

void
helpers_publish(const void *body, size_t len, const char *message_id)
{
	char err[256];
	amqp_connection_state_t conn = broker_connect(getenv("AMQP_URL"), 5000, 0, err, sizeof(err));
	cr_assert_not_null(conn, "%s", err);
	amqp_basic_properties_t props = {._flags = AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG,
	    .message_id                          = amqp_cstring_bytes(message_id),
	    .delivery_mode                       = 2};
	cr_assert_eq(amqp_basic_publish(conn, 1, amqp_cstring_bytes(TOPOLOGY_EVENTS_EXCHANGE),
	                 amqp_cstring_bytes(TOPOLOGY_USER_CREATED_KEY), 0, 0, &props,
	                 (amqp_bytes_t){.len = len, .bytes = (void *) body}),
	    AMQP_STATUS_OK);
	broker_close(conn);
}
