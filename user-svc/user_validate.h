/* The validation rules of CONTRACT.md for users; every violation is
 * reported, each naming its field. */
#ifndef USER_SVC_USER_VALIDATE_H
#define USER_SVC_USER_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "rpc/status.h"

#define USER_NAME_MAX 100
#define USER_EMAIL_MAX 254

/* Checks a CreateUser request. name_out receives the name trimmed of
 * surrounding white space (it is stored that way). Violations go to st;
 * returns true when there are none. */
bool user_validate_create(const char *name, const char *email, char *name_out, size_t name_out_len, rpc_status *st);

#endif
