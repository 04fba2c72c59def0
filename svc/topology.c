/* topology.h: the one declaration of the events exchange. */
#include "svc/topology.h"

#include "svc/broker.h"

bool
topology_declare_events(amqp_connection_state_t conn, char *err, size_t errlen)
{
	/* durable, not auto-deleted: events published while no consumer is
	 * connected still reach the durable queues bound to it. */
	amqp_exchange_declare(conn, 1, amqp_cstring_bytes(TOPOLOGY_EVENTS_EXCHANGE),
	    amqp_cstring_bytes(TOPOLOGY_EVENTS_EXCHANGE_TYPE), 0, 1, 0, 0, amqp_empty_table);
	return broker_reply_ok(conn, "exchange.declare " TOPOLOGY_EVENTS_EXCHANGE, err, errlen);
}
