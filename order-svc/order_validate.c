/* order_validate.h */
#include "order_validate.h"

#include <stdio.h>
#include <string.h>

#include "base/utf8.h"
#include "svc/request_fields.h"
#include "svc/text_field.h"

static const char *const statuses[] = {"pending", "paid", "shipped", "completed", "cancelled", NULL};

/* price: a plain decimal (the transcoder writes canonical text), > 0, at
 * most 2 decimal places, below 10^13. */
static void
check_price(const char *price, rpc_status *st)
{
	if (price == NULL || price[0] == '\0') {
		rpc_status_add_violation(st, "price", "price must be a number");
		return;
	}
	const char *p = price;
	bool negative = *p == '-';
	if (negative)
		p++;
	size_t int_digits  = strspn(p, "0123456789");
	const char *frac   = p[int_digits] == '.' ? p + int_digits + 1 : p + int_digits;
	size_t frac_digits = strspn(frac, "0123456789");
	if (int_digits == 0 || frac[frac_digits] != '\0') {
		rpc_status_add_violation(st, "price", "price must be a number");
		return;
	}
	bool zero = strspn(p, "0.") == strlen(p);
	if (negative || zero)
		rpc_status_add_violation(st, "price", "price must be greater than 0");
	else if (frac_digits > 2)
		rpc_status_add_violation(st, "price", "price must have at most 2 decimal places");
	else if (int_digits - strspn(p, "0") > 13 && int_digits > strspn(p, "0")) /* 10^13 has 14 digits */
		rpc_status_add_violation(st, "price", "price must be less than 10000000000000");
}

bool
order_validate_create(long long user_id, const char *product, const char *price, const char *status, char *product_out,
    size_t product_len, char *status_out, size_t status_len, rpc_status *st)
{
	size_t before = st->n_violations;
	svc_validate_id(user_id, "userId", st);

	text_field_check(product, "product", ORDER_PRODUCT_MAX, product_out, product_len, st);

	check_price(price, st);

	const char *chosen = status[0] != '\0' ? status : "pending";
	bool known         = false;
	for (int i = 0; statuses[i] != NULL; i++)
		known = known || strcmp(chosen, statuses[i]) == 0;
	if (!known)
		rpc_status_add_violation(
		    st, "status", "status must be one of pending, paid, shipped, completed, cancelled");
	else
		snprintf(status_out, status_len, "%s", chosen);
	return st->n_violations == before;
}
