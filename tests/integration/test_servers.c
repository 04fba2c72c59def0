/* The real servers scripts/test started answer: a PostgreSQL query, a Redis
 * round trip, and a RabbitMQ declare + publish + consume. A missing server
 * fails the test with a message; it is never skipped. */
#include "svc/rabbitmq.h"
#include <criterion/criterion.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *
required_env(const char *name)
{
	const char *v = getenv(name);
	cr_assert(v != NULL && v[0] != '\0', "%s is not set: run the tests with scripts/test", name);
	return v;
}

Test(servers, postgres_answers_a_query_in_each_service_database, .timeout = 30)
{
	const char *urls[] = {required_env("USER_DB_URL"), required_env("ORDER_DB_URL")};
	for (int i = 0; i < 2; i++) {
		PGconn *db = PQconnectdb(urls[i]);
		cr_assert_eq(PQstatus(db), CONNECTION_OK, "connect: %s", PQerrorMessage(db));
		const char *params[] = {"41"};
		PGresult *res =
		    PQexecParams(db, "SELECT $1::int + 1, current_database()", 1, NULL, params, NULL, NULL, 0);
		cr_assert_eq(PQresultStatus(res), PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
		cr_assert_str_eq(PQgetvalue(res, 0, 0), "42");
		cr_assert_str_eq(PQgetvalue(res, 0, 1), i == 0 ? "user_db" : "order_db");
		PQclear(res);
		PQfinish(db);
	}
}

Test(servers, redis_round_trip, .timeout = 30)
{
	/* REDIS_URL is redis://127.0.0.1:PORT/0 */
	const char *url = required_env("REDIS_URL");
	int port        = 0;
	cr_assert_eq(sscanf(url, "redis://127.0.0.1:%d", &port), 1, "unexpected REDIS_URL %s", url);
	redisContext *r = redisConnect("127.0.0.1", port);
	cr_assert(r != NULL && r->err == 0, "connect: %s", r != NULL ? r->errstr : "no memory");
	char key[64];
	snprintf(key, sizeof(key), "test:servers:%d", (int) getpid());
	redisReply *rep = redisCommand(r, "SET %s %b EX 30", key, "v\0alue", (size_t) 6);
	cr_assert(rep != NULL && rep->type == REDIS_REPLY_STATUS);
	freeReplyObject(rep);
	rep = redisCommand(r, "GET %s", key);
	cr_assert(rep != NULL && rep->type == REDIS_REPLY_STRING);
	cr_assert_eq(rep->len, 6);
	cr_assert_arr_eq(rep->str, "v\0alue", 6);
	freeReplyObject(rep);
	freeReplyObject(redisCommand(r, "DEL %s", key));
	redisFree(r);
}

static void
assert_amqp_ok(amqp_connection_state_t conn, const char *what)
{
	amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
	cr_assert_eq(r.reply_type, AMQP_RESPONSE_NORMAL, "%s failed (reply type %d)", what, r.reply_type);
}

Test(servers, rabbitmq_declare_publish_consume, .timeout = 30)
{
	char *url = strdup(required_env("AMQP_URL")); /* amqp_parse_url rewrites it */
	struct amqp_connection_info info;
	cr_assert_eq(amqp_parse_url(url, &info), AMQP_STATUS_OK, "bad AMQP_URL");
	amqp_connection_state_t conn = amqp_new_connection();
	amqp_socket_t *sock          = amqp_tcp_socket_new(conn);
	cr_assert_eq(amqp_socket_open(sock, info.host, info.port), AMQP_STATUS_OK, "cannot reach RabbitMQ at %s:%d",
	    info.host, info.port);
	/* "amqp://host:port/" parses to the empty vhost; RabbitMQ's default is "/". */
	const char *vhost = info.vhost[0] != '\0' ? info.vhost : "/";
	amqp_rpc_reply_t login =
	    amqp_login(conn, vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user, info.password);
	cr_assert_eq(login.reply_type, AMQP_RESPONSE_NORMAL, "login failed");
	amqp_channel_open(conn, 1);
	assert_amqp_ok(conn, "channel.open");

	char queue[64];
	snprintf(queue, sizeof(queue), "test.servers.%d", (int) getpid());
	amqp_queue_declare(conn, 1, amqp_cstring_bytes(queue), 0, 0, 0, 1, amqp_empty_table);
	assert_amqp_ok(conn, "queue.declare");
	amqp_basic_properties_t props = {
	    ._flags = AMQP_BASIC_CONTENT_TYPE_FLAG, .content_type = amqp_cstring_bytes("text/plain")};
	cr_assert_eq(amqp_basic_publish(conn, 1, amqp_empty_bytes, amqp_cstring_bytes(queue), 0, 0, &props,
	                 amqp_cstring_bytes("hello broker")),
	    AMQP_STATUS_OK);
	amqp_basic_consume(conn, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 1, 0, amqp_empty_table);
	assert_amqp_ok(conn, "basic.consume");

	amqp_envelope_t env;
	struct timeval timeout = {.tv_sec = 10};
	amqp_maybe_release_buffers(conn);
	amqp_rpc_reply_t r = amqp_consume_message(conn, &env, &timeout, 0);
	cr_assert_eq(r.reply_type, AMQP_RESPONSE_NORMAL, "no message consumed");
	cr_assert_eq(env.message.body.len, strlen("hello broker"));
	cr_assert_arr_eq(env.message.body.bytes, "hello broker", env.message.body.len);
	amqp_destroy_envelope(&env);

	amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
	amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(conn);
	free(url);
}
