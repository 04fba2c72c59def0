/* The OpenAPI 3.1 document, generated from the route table and the
 * protobuf descriptors, so it can never disagree with what is served. */
#ifndef GATEWAY_OPENAPI_H
#define GATEWAY_OPENAPI_H

#include <stddef.h>

/* Returns the document as JSON text, the caller's to free(). NULL when any
 * piece of it cannot be built (a text that is not UTF-8, no memory): the
 * reason, naming the route, is written to why. Never a document missing a
 * piece. */
char *openapi_document(char *why, size_t why_len);

#endif
