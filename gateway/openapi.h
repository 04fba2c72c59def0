/* The OpenAPI 3.1 document, generated from the route table and the
 * protobuf descriptors, so it can never disagree with what is served. */
#ifndef GATEWAY_OPENAPI_H
#define GATEWAY_OPENAPI_H

/* Returns the document as JSON text, the caller's to free(); NULL when out
 * of memory. */
char *openapi_document(void);

#endif
