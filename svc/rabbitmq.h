/* librabbitmq-c's API, from where the installed version keeps it: 0.14 and
 * later (Debian 13: 0.15) install <rabbitmq-c/amqp.h> and
 * <rabbitmq-c/tcp_socket.h> and make the old top-level headers emit a
 * deprecation #warning, an error under -Werror; 0.11 (Debian 12) has only
 * <amqp.h> and <amqp_tcp_socket.h>. Decided at build time by what the
 * compiler finds. Include this, never the library's headers directly. */
#ifndef SVC_RABBITMQ_H
#define SVC_RABBITMQ_H

#if defined(__has_include) && __has_include(<rabbitmq-c/amqp.h>)
#include <rabbitmq-c/amqp.h>
#include <rabbitmq-c/tcp_socket.h>
#else
#include <amqp.h>
#include <amqp_tcp_socket.h>
#endif

#endif
