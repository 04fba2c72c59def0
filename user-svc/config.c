/* user-svc's own variables, appended to the skeleton's table. */
#include "config.h"

user_config user_cfg;

const env_var user_settings[] = {
    {.name             = "OUTBOX_POLL_MS",
        .default_value = "1000",
        .kind          = ENV_INT,
        .min           = 10,
        .max           = 600000,
        .out           = &user_cfg.outbox_poll_ms,
        .help          = "the relay also looks for events this often"},
};
const size_t user_settings_count = sizeof(user_settings) / sizeof(user_settings[0]);
