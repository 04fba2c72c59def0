/* The validation rules of CONTRACT.md for orders; every violation is
 * reported, each naming its field. */
#ifndef ORDER_SVC_ORDER_VALIDATE_H
#define ORDER_SVC_ORDER_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "rpc/status.h"

#define ORDER_PRODUCT_MAX 200

/* Checks a CreateOrder request. product_out gets the trimmed product,
 * status_out the status ("pending" when none was given). price is the
 * decimal text of the google.type.Decimal (NULL when absent). */
bool order_validate_create(long long user_id, const char *product, const char *price, const char *status,
    char *product_out, size_t product_len, char *status_out, size_t status_len, rpc_status *st);

#endif
