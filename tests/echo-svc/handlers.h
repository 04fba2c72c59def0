/* One function per echo.EchoService method. Each worker's state is the
 * skeleton's svc_worker (svc/workers.h); echo-svc shares nothing else. */
#ifndef ECHO_SVC_HANDLERS_H
#define ECHO_SVC_HANDLERS_H

#include "echo.pb-c.h"

/* The longest text stored, in code points. */
#define ECHO_TEXT_MAX 1000

extern Echo__EchoService_Service echo_service;

#endif
