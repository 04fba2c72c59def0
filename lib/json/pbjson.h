/* JSON ⇄ protobuf by walking protobuf-c descriptors, so no message needs
 * hand-written translation. Field names are written in lowerCamelCase and
 * read in either lowerCamelCase or the proto's snake_case.
 *
 * Every JSON number is read from its text, by its exact decimal value
 * (number_text.h), never through a double that rounded it.
 *
 * Mapping (proto3 JSON, with the API's choices):
 *   integers        JSON numbers, in any form whose exact value is an
 *                   integer in range (15, 1.5e1, 1500e-2; not
 *                   1.0000000000000001); also read from strings of digits;
 *                   a uint64 past 2^63 is written as a string
 *   float, double   JSON numbers (the nearest to the text; past the range
 *                   refused), written as the shortest text that reads back
 *   bool, string    as JSON
 *   bytes           base64 (standard or URL-safe alphabet when read)
 *   enum            the value's name; also read from its number
 *   message         object; google.protobuf.Timestamp as RFC 3339 text in
 *                   UTC with milliseconds; google.type.Decimal read from
 *                   a JSON number or a decimal string, kept as the exact
 *                   value in canonical plain text (at most 60 digits) and
 *                   written as a JSON number ("15000000.00" is written
 *                   15000000, "12.50" as 12.5)
 *   repeated        array
 * Every field is written, unset messages as null, so clients always see the
 * same shape. */
#ifndef JSON_PBJSON_H
#define JSON_PBJSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "base/buffer.h"
#include "rpc/status.h"

/* Decodes a JSON object into a new message of type desc. On RPC_OK *out is
 * the caller's; free it with protobuf_c_message_free_unpacked(*out, NULL).
 * Otherwise *out is NULL and st holds INVALID_ARGUMENT with one violation
 * per problem (unknown field, wrong type, out of range), each naming the
 * field's path ("items[2].price"). obj is borrowed. */
rpc_code pbjson_decode_object(
    const ProtobufCMessageDescriptor *desc, json_t *obj, ProtobufCMessage **out, rpc_status *st);

/* Parses JSON text (any value). On RPC_OK *out is a new reference the
 * caller must json_decref; otherwise st holds one violation of field "body"
 * whose text gives the position in json but never quotes the parser. In
 * *out each number is a string holding NUL then the number's text (see
 * pbjson.c): give it to pbjson_decode_object, not to other readers. */
rpc_code pbjson_parse(const char *json, size_t len, json_t **out, rpc_status *st);

/* pbjson_parse, then pbjson_decode_object; malformed JSON, or JSON that is not an object, is
 * one violation of field "body" whose text does not quote the parser. */
rpc_code pbjson_decode(
    const ProtobufCMessageDescriptor *desc, const char *json, size_t len, ProtobufCMessage **out, rpc_status *st);

/* Appends msg as a JSON object to b (base/buffer.h; b->data is then the
 * JSON text). Returns 0, or -1 when out of memory, now or in an earlier
 * append to b. */
int pbjson_encode(const ProtobufCMessage *msg, buffer *b);

/* Appends the value of one field of msg (by proto name) to b; -1 when the
 * field does not exist or memory ran out. */
int pbjson_encode_field(const ProtobufCMessage *msg, const char *field, buffer *b);

/* Writes the lowerCamelCase JSON name of a proto field name ("user_id" →
 * "userId") into out. */
void pbjson_json_name(const char *proto_name, char *out, size_t len);

/* Finds a field by its JSON or proto name; NULL when unknown. */
const ProtobufCFieldDescriptor *pbjson_find_field(const ProtobufCMessageDescriptor *desc, const char *name);

#endif
