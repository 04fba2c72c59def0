/* Helpers shared by the order end-to-end tests. */
#ifndef TESTS_SUPPORT_ORDER_HELPERS_H
#define TESTS_SUPPORT_ORDER_HELPERS_H

#include "svc/rabbitmq.h"

#include "stack.h"

/* Creates a user through the gateway; returns its id (the test fails
 * otherwise). email_out may be NULL. */
long long helpers_create_user(char *email_out, size_t len);

/* POST /orders with a JSON body; returns the status. */
long helpers_post_order(const char *body, const char *const *extra_headers, http_response *r);

/* Occurrences of needle in order-svc's log so far. */
int helpers_log_count(const char *needle);

/* Waits up to timeout_ms until needle appears at least `times` in the log. */
int helpers_wait_log(const char *needle, int times, int timeout_ms);

/* Publishes raw bytes to the events exchange with the user_created key
 * (svc/topology.h). */
void helpers_publish(const void *body, size_t len, const char *message_id);

#endif
