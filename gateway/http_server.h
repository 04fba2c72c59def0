/* The HTTP side of the gateway: CivetWeb on every configured port, one
 * handler that routes each request through the route table, transcodes
 * JSON ⇄ protobuf and calls the service over nng. */
#ifndef GATEWAY_HTTP_SERVER_H
#define GATEWAY_HTTP_SERVER_H

#include <stddef.h>

#include "config.h"
#include "routes.h"
#include "rpc/client.h"

typedef struct http_server http_server;

/* Starts listening. cfg and clients are borrowed and must outlive the
 * server. On failure returns -1 with the reason in err and nothing
 * running. */
int http_server_start(http_server **out, const gateway_config *cfg, rpc_client *const clients[CONTRACT_SERVICES_MAX],
    char *err, size_t errlen);

/* Stops taking connections, lets requests in progress finish, frees the
 * server. Accepts NULL. */
void http_server_stop(http_server *srv);

#endif
