/* order-svc's own variables, appended to the skeleton's table. */
#include "config.h"

#include "base/net_check.h"
#include "events_consumer.h"
#include "rpc/replica_set.h"

order_config order_cfg;

const env_var order_settings[] = {
    {.name             = "USER_SVC_URL",
        .default_value = "tcp://127.0.0.1:5001",
        .kind          = ENV_CUSTOM,
        .parse         = env_parse_nng_dial_urls,
        .out           = &order_cfg.user_svc_url,
        .help          = "nng URL(s) of user-svc, asked whether a user exists: a list, or a name that "
                         "resolves to every replica"},
    RPC_RESOLVE_INTERVAL_VAR(&order_cfg.resolve_interval_ms),
    {.name             = "EVENTS_PREFETCH",
        .default_value = "16",
        .kind          = ENV_INT,
        .min           = 1,
        .max           = 65535,
        .out           = &order_cfg.prefetch,
        .help          = "user_created events in flight to this consumer"},
    {.name             = "EVENTS_QUEUE_TYPE",
        .default_value = "classic",
        .kind          = ENV_CHOICE,
        .choices       = events_queue_type_names,
        .out           = &order_cfg.queue_type,
        .help          = "type of the user_created queue and its dead-letter queue: classic (one broker) or "
                         "quorum (replicated over a cluster's nodes); an existing queue keeps its type"},
};
const size_t order_settings_count = sizeof(order_settings) / sizeof(order_settings[0]);
