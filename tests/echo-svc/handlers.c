/* handlers.h: validate, store or read, reply. */
#include "handlers.h"

#include "base/log.h"
#include "echo_repo.h"
#include "rpc/server.h"
#include "svc/request_fields.h"
#include "svc/service_health.h"
#include "svc/text_field.h"
#include "svc/workers.h"

static void
echo_create_echo(
    Echo__EchoService_Service *svc, const Echo__CreateEchoRequest *in, Echo__Echo_Closure done, void *closure_data)
{
	(void) svc;
	rpc_call *call = closure_data;
	svc_worker *w  = rpc_call_worker_state(call);
	rpc_status *st = rpc_call_status(call);
	char text[ECHO_TEXT_MAX * 4 + 1];
	int64_t id;
	if (!text_field_check(in->text, "text", ECHO_TEXT_MAX, text, sizeof(text), st) ||
	    echo_repo_create(w->db, text, &id, st) != RPC_OK) {
		done(NULL, closure_data);
		return;
	}
	Echo__Echo reply = ECHO__ECHO__INIT;
	reply.id         = id;
	reply.text       = text;
	done(&reply, closure_data);
	log_info(rpc_call_request_id(call), "echo_created id=%lld", (long long) id);
}

static void
echo_get_echo(
    Echo__EchoService_Service *svc, const Echo__GetEchoRequest *in, Echo__Echo_Closure done, void *closure_data)
{
	(void) svc;
	rpc_call *call = closure_data;
	svc_worker *w  = rpc_call_worker_state(call);
	rpc_status *st = rpc_call_status(call);
	char text[ECHO_TEXT_MAX * 4 + 1];
	if (!svc_validate_id(in->id, "id", st) || echo_repo_get(w->db, in->id, text, sizeof(text), st) != RPC_OK) {
		done(NULL, closure_data);
		return;
	}
	Echo__Echo reply = ECHO__ECHO__INIT;
	reply.id         = in->id;
	reply.text       = text;
	done(&reply, closure_data);
}

static void
echo_health(Echo__EchoService_Service *svc, const Health__HealthRequest *in, Health__HealthReply_Closure done,
    void *closure_data)
{
	(void) svc;
	(void) in;
	svc_health h;
	svc_health_begin(&h, rpc_call_worker_state(closure_data)); /* postgres only: no Redis, no RabbitMQ declared */
	done(svc_health_reply(&h), closure_data);
}

Echo__EchoService_Service echo_service = ECHO__ECHO_SERVICE__INIT(echo_);
