/* http_client.h over libcurl's easy interface. */
#include "http_client.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct growing {
	char *data;
	size_t len;
} growing;

static size_t
append(char *ptr, size_t size, size_t n, void *arg)
{
	growing *g   = arg;
	size_t bytes = size * n;
	char *data   = realloc(g->data, g->len + bytes + 1);
	if (data == NULL)
		return 0;
	memcpy(data + g->len, ptr, bytes);
	g->data = data;
	g->len += bytes;
	g->data[g->len] = '\0';
	return bytes;
}

long
http_request(const char *method, const char *url, const char *const *headers, const char *body, http_response *out)
{
	memset(out, 0, sizeof(*out));
	growing b = {calloc(1, 1), 0}, h = {calloc(1, 1), 0};
	CURL *curl              = curl_easy_init();
	struct curl_slist *list = NULL;
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
		list = curl_slist_append(list, headers[i]);
	list = curl_slist_append(list, "Expect:"); /* no 100-continue round trip */
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, append);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &h);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 20000L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	if (body != NULL) {
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
	}
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
	curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &out->seconds);
	curl_slist_free_all(list);
	curl_easy_cleanup(curl);
	out->body    = b.data;
	out->len     = b.len;
	out->headers = h.data;
	out->json    = json_loadb(b.data, b.len, 0, NULL);
	return out->status;
}

const char *
http_header(const http_response *r, const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);
	for (const char *line = r->headers; line != NULL && *line != '\0';) {
		const char *eol = strstr(line, "\r\n");
		if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
			const char *v = line + n + 1;
			while (*v == ' ')
				v++;
			size_t vlen = eol != NULL ? (size_t) (eol - v) : strlen(v);
			if (vlen >= len)
				vlen = len - 1;
			memcpy(buf, v, vlen);
			buf[vlen] = '\0';
			return buf;
		}
		line = eol != NULL ? eol + 2 : NULL;
	}
	return NULL;
}

void
http_response_free(http_response *r)
{
	free(r->body);
	free(r->headers);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}
