/* openapi.h: route table + descriptors → OpenAPI 3.1. */
#include "openapi.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "routes.h"
#include "json/pbjson.h"

static json_t *message_ref(const ProtobufCMessageDescriptor *desc, json_t *schemas);

/* The name of the first piece the document lost. jansson's json_pack answers
 * NULL for text that is not UTF-8 (or no memory), and json_object_set_new
 * and json_array_append_new then drop the key without a word: every
 * insertion goes through put() or append(), and one lost piece fails the
 * whole document, so the gateway refuses to start rather than serve an
 * /openapi.json without the operation. Thread-local: servers may be created
 * in several threads (the tests). A copy, "" when nothing was lost: keys
 * are often the caller's stack buffers (a status, a path), gone by the time
 * the message is written (gcc 14's -Wdangling-pointer, in the Release build
 * of the Debian 13 images, saw that). */
static _Thread_local char lost[64];

static void
note_lost(const char *what)
{
	if (lost[0] == '\0')
		snprintf(lost, sizeof(lost), "%s", what);
}

static void
put(json_t *object, const char *key, json_t *value)
{
	/* set_new takes value even when it fails (and accepts no NULL object). */
	if (value == NULL || object == NULL || json_object_set_new(object, key, value) != 0) {
		if (object == NULL)
			json_decref(value);
		note_lost(key);
	}
}

static void
append(json_t *array, json_t *value)
{
	if (value == NULL || array == NULL || json_array_append_new(array, value) != 0) {
		if (array == NULL)
			json_decref(value);
		note_lost("an array item");
	}
}

static json_t *
scalar_schema(const ProtobufCFieldDescriptor *f, json_t *schemas)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: return json_pack("{s:s,s:s}", "type", "integer", "format", "int32");
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_pack("{s:s,s:s,s:i}", "type", "integer", "format", "int32", "minimum", 0);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: return json_pack("{s:s,s:s}", "type", "integer", "format", "int64");
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return json_pack("{s:s,s:s,s:i}", "type", "integer", "format", "int64", "minimum", 0);
	case PROTOBUF_C_TYPE_FLOAT: return json_pack("{s:s,s:s}", "type", "number", "format", "float");
	case PROTOBUF_C_TYPE_DOUBLE: return json_pack("{s:s,s:s}", "type", "number", "format", "double");
	case PROTOBUF_C_TYPE_BOOL: return json_pack("{s:s}", "type", "boolean");
	case PROTOBUF_C_TYPE_STRING: return json_pack("{s:s}", "type", "string");
	case PROTOBUF_C_TYPE_BYTES: return json_pack("{s:s,s:s}", "type", "string", "contentEncoding", "base64");
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *e = f->descriptor;
		json_t *names                    = json_array();
		for (unsigned i = 0; i < e->n_values; i++)
			append(names, json_string(e->values[i].name));
		return json_pack("{s:s,s:o}", "type", "string", "enum", names);
	}
	case PROTOBUF_C_TYPE_MESSAGE: return message_ref(f->descriptor, schemas);
	}
	return json_object();
}

static json_t *
field_schema(const ProtobufCFieldDescriptor *f, json_t *schemas)
{
	json_t *item = scalar_schema(f, schemas);
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return json_pack("{s:s,s:o}", "type", "array", "items", item);
	return item;
}

/* A $ref to the message's schema, adding it (and what it uses) to schemas;
 * the well-known types the API writes as scalars are inlined. */
static json_t *
message_ref(const ProtobufCMessageDescriptor *desc, json_t *schemas)
{
	if (strcmp(desc->name, "google.protobuf.Timestamp") == 0)
		return json_pack("{s:s,s:s}", "type", "string", "format", "date-time");
	if (strcmp(desc->name, "google.type.Decimal") == 0)
		return json_pack("{s:s,s:s}", "type", "number", "description", "exact decimal value");
	if (json_object_get(schemas, desc->name) == NULL) {
		json_t *props = json_object();
		json_t *schema =
		    json_pack("{s:s,s:o,s:b}", "type", "object", "properties", props, "additionalProperties", 0);
		put(schemas, desc->name, schema); /* before recursing: cycles end here */
		for (unsigned i = 0; i < desc->n_fields; i++) {
			char name[64];
			pbjson_json_name(desc->fields[i].name, name, sizeof(name));
			put(props, name, field_schema(&desc->fields[i], schemas));
		}
	}
	char ref[160];
	snprintf(ref, sizeof(ref), "#/components/schemas/%s", desc->name);
	return json_pack("{s:s}", "$ref", ref);
}

static json_t *
json_content(json_t *schema)
{
	return json_pack("{s:{s:o}}", "application/json", "schema", schema);
}

static void
add_error_response(json_t *responses, int status)
{
	char key[8];
	snprintf(key, sizeof(key), "%d", status);
	if (json_object_get(responses, key) != NULL)
		return;
	const char *text = status == 400   ? "Invalid request: every problem is listed, each naming its field"
	                   : status == 404 ? "Not found"
	                   : status == 409 ? "Conflict with existing data"
	                   : status == 413 ? "Body larger than MAX_BODY_BYTES"
	                   : status == 415 ? "Body is not application/json"
	                   : status == 500 ? "Internal error (details only in the logs)"
	                   : status == 503 ? "A service could not be reached in time"
	                   : status == 504 ? "A service did not answer within the deadline"
	                                   : "Error";
	put(responses, key,
	    json_pack("{s:s,s:o}", "description", text, "content",
	        json_content(json_pack("{s:s}", "$ref", "#/components/schemas/Error"))));
}

/* The path as the contract spells it ("/orders/user/{user_id}": AIP-127's
 * variables are the request's field names, and so are /metrics' labels and
 * the access log's), with its parameters. */
static void
openapi_path(const route *r, char *out, size_t len, json_t *params, json_t *schemas)
{
	const ProtobufCMessageDescriptor *input = NULL;
	if (r->kind == ROUTE_RPC) {
		const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(
		    routes_service_descriptor(r->service), r->rpc_method);
		input = m->input;
	}
	snprintf(out, len, "%s", r->path);
	for (const char *p = strchr(r->path, '{'); p != NULL; p = strchr(p + 1, '{')) {
		const char *close = strchr(p, '}');
		char name[64];
		snprintf(name, sizeof(name), "%.*s", (int) (close - p - 1), p + 1);
		const ProtobufCFieldDescriptor *f =
		    input != NULL ? protobuf_c_message_descriptor_get_field_by_name(input, name) : NULL;
		append(params, json_pack("{s:s,s:s,s:b,s:o}", "name", name, "in", "path", "required", 1, "schema",
		                   f != NULL ? field_schema(f, schemas) : json_pack("{s:s}", "type", "string")));
	}
}

/* The HEAD twin of a GET operation: same responses, none with content. */
static json_t *
head_operation(const json_t *get)
{
	json_t *op = json_deep_copy(get);
	json_t *id = json_object_get(op, "operationId");
	if (json_is_string(id)) {
		char text[192];
		snprintf(text, sizeof(text), "%s.head", json_string_value(id));
		put(op, "operationId", json_string(text));
	}
	const char *key;
	json_t *response;
	json_object_foreach(json_object_get(op, "responses"), key, response) json_object_del(response, "content");
	return op;
}

static json_t *
operation(const route *r, json_t *schemas, json_t *params)
{
	json_t *op        = json_pack("{s:s}", "summary", r->summary);
	json_t *responses = json_object();
	char status[8];
	snprintf(status, sizeof(status), "%d", r->success_status);
	if (json_array_size(params) > 0)
		put(op, "parameters", json_incref(params));

	switch (r->kind) {
	case ROUTE_RPC: {
		const ProtobufCServiceDescriptor *svc = routes_service_descriptor(r->service);
		const ProtobufCMethodDescriptor *m =
		    protobuf_c_service_descriptor_get_method_by_name(svc, r->rpc_method);
		char op_id[160];
		snprintf(op_id, sizeof(op_id), "%s/%s", svc->name, m->name);
		put(op, "operationId", json_string(op_id));
		if (r->takes_body)
			put(op, "requestBody",
			    json_pack(
			        "{s:b,s:o}", "required", 1, "content", json_content(message_ref(m->input, schemas))));
		json_t *body =
		    r->response_field != NULL
		        ? field_schema(
		              protobuf_c_message_descriptor_get_field_by_name(m->output, r->response_field), schemas)
		        : message_ref(m->output, schemas);
		json_t *ok = json_pack("{s:s,s:o}", "description", r->summary, "content", json_content(body));
		if (r->location != NULL)
			put(ok, "headers",
			    json_pack("{s:{s:s,s:{s:s}}}", "Location", "description", "Path of the created resource",
			        "schema", "type", "string"));
		put(responses, status, ok);
		add_error_response(responses, 400);
		for (int i = 0; i < ROUTE_MAX_STATUSES && r->statuses[i] != 0; i++)
			add_error_response(responses, r->statuses[i]);
		if (r->takes_body) {
			add_error_response(responses, 413);
			add_error_response(responses, 415);
		}
		add_error_response(responses, 500);
		add_error_response(responses, 503);
		add_error_response(responses, 504);
		break;
	}
	case ROUTE_READYZ:
		put(responses, status,
		    json_pack("{s:s,s:o}", "description", "Ready", "content",
		        json_content(json_pack("{s:s}", "$ref", "#/components/schemas/Readiness"))));
		put(responses, "503",
		    json_pack("{s:s,s:o}", "description", "A service or one of its dependencies is not reachable",
		        "content", json_content(json_pack("{s:s}", "$ref", "#/components/schemas/Readiness"))));
		break;
	case ROUTE_METRICS:
		put(responses, status,
		    json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", r->summary, "content",
		        "text/plain; version=0.0.4", "schema", "type", "string"));
		break;
	default:
		put(responses, status,
		    json_pack("{s:s,s:o}", "description", r->summary, "content",
		        json_content(json_pack("{s:s}", "type", "object"))));
	}
	put(op, "responses", responses);
	return op;
}

char *
openapi_document(char *why, size_t why_len)
{
	lost[0]         = '\0';
	json_t *schemas = json_object();
	put(schemas, "Error",
	    json_pack("{s:s,s:[sssss],s:{s:{s:s},s:{s:s},s:{s:s},s:{s:[{s:s},{s:s,s:{s:s}}]},s:{s:s}}}", "type",
	        "object", "required", "statusCode", "error", "code", "message", "requestId", "properties", "statusCode",
	        "type", "integer", "error", "type", "string", "code", "type", "string", "message", "oneOf", "type",
	        "string", "type", "array", "items", "type", "string", "requestId", "type", "string"));
	put(schemas, "Readiness",
	    json_pack("{s:s,s:{s:{s:s},s:{s:s}}}", "type", "object", "properties", "status", "type", "string",
	        "services", "type", "object"));

	json_t *paths = json_object();
	size_t routes_count;
	const route *routes = routes_table(&routes_count);
	for (size_t i = 0; i < routes_count; i++) {
		const route *r = &routes[i];
		char path[128];
		json_t *params = json_array();
		openapi_path(r, path, sizeof(path), params, schemas);
		json_t *item = json_object_get(paths, path);
		if (item == NULL) {
			item = json_object();
			put(paths, path, item);
		}
		char method[8];
		size_t k = 0;
		for (; r->method[k] != '\0' && k + 1 < sizeof(method); k++)
			method[k] = (char) tolower((unsigned char) r->method[k]);
		method[k]  = '\0';
		json_t *op = operation(r, schemas, params);
		/* HEAD: the GET's statuses and headers without a body (RFC 9110 9.3.2). */
		if (strcmp(r->method, "GET") == 0)
			put(item, "head", head_operation(op));
		put(item, method, op);
		json_decref(params);
		if (lost[0] != '\0') {
			snprintf(why, why_len,
			    "the OpenAPI document cannot hold route %s %s: its '%s' could not be built (text that is "
			    "not "
			    "UTF-8, or no memory)",
			    r->method, r->path, lost);
			json_decref(paths);
			json_decref(schemas);
			return NULL;
		}
	}

	json_t *doc = json_pack("{s:s,s:{s:s,s:s,s:s},s:o,s:{s:o}}", "openapi", "3.1.0", "info", "title",
	    "Users and orders API", "version", "1.0.0", "description",
	    "REST in front of protobuf services over nng. Every error has the Error shape; every response "
	    "carries X-Request-Id.",
	    "paths", paths, "components", "schemas", schemas);
	char *text  = doc != NULL && lost[0] == '\0' ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
	json_decref(doc);
	if (text == NULL)
		snprintf(why, why_len, "the OpenAPI document could not be built (%s; no memory?)",
		    lost[0] != '\0' ? lost : "its text");
	return text;
}
