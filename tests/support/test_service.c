/* Handlers of the test service: each exercises one path of the runtime. */
#include "test_service.h"

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static void
sleep_ms(uint32_t ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The deadline call_begin saw on this worker's thread for the call being
 * served; 0 once a handler read it. */
static _Thread_local int64_t begun_deadline_ms;

static void
call_begin(void *state, const rpc_call *call)
{
	(void) state;
	begun_deadline_ms = rpc_call_deadline_ms(call);
}

static void
test_echo(Rpctest__TestService_Service *svc, const Rpctest__EchoRequest *in, Rpctest__EchoReply_Closure done,
    void *closure_data)
{
	rpc_call *call = closure_data;
	if (in->sleep_ms > 0)
		sleep_ms(in->sleep_ms);
	Rpctest__EchoReply out      = RPCTEST__ECHO_REPLY__INIT;
	out.text                    = in->text;
	out.number                  = in->number;
	out.request_id              = (char *) rpc_call_request_id(call);
	out.remaining_ms            = rpc_call_remaining_ms(call);
	out.worker                  = (int32_t) (intptr_t) rpc_call_worker_state(call);
	out.begun_with_its_deadline = begun_deadline_ms != 0 && begun_deadline_ms == rpc_call_deadline_ms(call);
	begun_deadline_ms           = 0;
	const char *md              = in->metadata_key[0] != '\0' ? rpc_call_metadata(call, in->metadata_key) : NULL;
	out.metadata_value          = (char *) (md != NULL ? md : "");
	done(&out, closure_data);
}

static void
test_invalid(Rpctest__TestService_Service *svc, const Rpctest__EchoRequest *in, Rpctest__EchoReply_Closure done,
    void *closure_data)
{
	rpc_status *st = rpc_call_status(closure_data);
	rpc_status_add_violation(st, "text", "text must not be empty");
	rpc_status_add_violation(st, "number", "number must be positive");
	done(NULL, closure_data);
}

static void
test_no_reply(Rpctest__TestService_Service *svc, const Rpctest__EchoRequest *in, Rpctest__EchoReply_Closure done,
    void *closure_data)
{
}

static Rpctest__TestService_Service test_service = {
    .base      = RPCTEST__TEST_SERVICE__BASE_INIT,
    .echo      = test_echo,
    .invalid   = test_invalid,
    .no_reply  = test_no_reply,
    .not_there = NULL,
};

/* Each worker's state is just its index, so tests can see the spread. */
static void *
worker_index(void *arg, int index)
{
	(void) arg;
	return (void *) (intptr_t) index;
}

rpc_code
test_service_open(rpc_server **out, const char *url, int workers, rpc_status *st)
{
	return test_service_open_tls(out, url, workers, NULL, st);
}

rpc_server_options
test_service_options(const char *url, int workers)
{
	return (rpc_server_options){
	    .url         = url,
	    .service     = &test_service.base,
	    .workers     = workers,
	    .worker_open = worker_index,
	    .call_begin  = call_begin,
	};
}

rpc_code
test_service_open_tls(rpc_server **out, const char *url, int workers, const rpc_tls_files *tls, rpc_status *st)
{
	rpc_server_options opt = test_service_options(url, workers);
	opt.tls                = tls;
	return rpc_server_open(out, &opt, st);
}
