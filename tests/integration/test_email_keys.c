/* The upgrade path of migration 004 (issue 15 section 6) against the real
 * PostgreSQL: users created under the old lower(email) index get their
 * email key when user-svc starts; a row whose key an earlier row holds
 * keeps none, and its address stays taken. Runs in a scratch database. */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "svc/db.h"
#include "user_repo.h"

static char scratch_url[512], scratch_name[64];

static PGconn *
connect_to(const char *url)
{
	PGconn *c = PQconnectdb(url);
	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s: %s", url, PQerrorMessage(c));
	return c;
}

static void
exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQerrorMessage(c));
	PQclear(r);
}

static void
apply_file(PGconn *c, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", MIGRATIONS_DIR, name);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	static char sql[65536];
	size_t n = fread(sql, 1, sizeof(sql) - 1, f);
	fclose(f);
	sql[n] = '\0';
	exec_ok(c, sql);
}

static void
scratch_setup(void)
{
	const char *admin = getenv("PG_ADMIN_URL");
	cr_assert_not_null(admin, "PG_ADMIN_URL is not set: run the tests with scripts/test");
	snprintf(scratch_name, sizeof(scratch_name), "email_keys_%d", (int) getpid());
	PGconn *c = connect_to(admin);
	char sql[160];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", scratch_name);
	exec_ok(c, sql);
	/* template0 with the C locale: lower() folds ASCII only, as on the
	 * test cluster the issue was found on. */
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C' ENCODING 'UTF8'",
	    scratch_name);
	exec_ok(c, sql);
	PQfinish(c);
	const char *slash = strrchr(admin, '/');
	cr_assert_not_null(slash);
	snprintf(scratch_url, sizeof(scratch_url), "%.*s/%s", (int) (slash - admin), admin, scratch_name);
}

static void
scratch_teardown(void)
{
	PGconn *c = PQconnectdb(getenv("PG_ADMIN_URL"));
	char sql[160];
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", scratch_name);
	PQclear(PQexec(c, sql));
	PQfinish(c);
}

static char *
key_of(PGconn *c, const char *email)
{
	const char *params[] = {email};
	PGresult *r = PQexecParams(c, "SELECT email_key FROM users WHERE email = $1", 1, NULL, params, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
	cr_assert_eq(PQntuples(r), 1, "%s", email);
	char *key = PQgetisnull(r, 0, 0) ? NULL : strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return key;
}

Test(email_keys, rows_from_before_the_migration_get_their_key_and_duplicates_stay_taken, .init = scratch_setup,
    .fini = scratch_teardown)
{
	PGconn *c = connect_to(scratch_url);
	apply_file(c, "001_users.sql");
	apply_file(c, "002_outbox_wake_in_process.sql");
	apply_file(c, "003_outbox_without_checks_per_insert.sql");
	/* Under lower() in the C locale, all five were distinct. */
	exec_ok(c, "INSERT INTO users (name, email) VALUES ('A', 'ÄBC.x@example.com'), ('B', 'äbc.x@example.com'),"
	           " ('C', 'straße@example.com'), ('D', 'STRASSE@example.com'), ('E', 'plain@example.com')");
	apply_file(c, "004_users_email_key.sql");

	db *d = db_new(scratch_url);
	cr_assert_not_null(d);
	int64_t filled, left;
	rpc_status st;
	rpc_status_clear(&st);
	cr_assert_eq(user_repo_fill_email_keys(d, &filled, &left, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(filled, 3);
	cr_assert_eq(left, 2);
	char *k;
	cr_assert_str_eq(k = key_of(c, "ÄBC.x@example.com"), "äbc.x@example.com");
	free(k);
	cr_assert_null(key_of(c, "äbc.x@example.com"), "the later duplicate keeps no key");
	cr_assert_str_eq(k = key_of(c, "straße@example.com"), "strasse@example.com");
	free(k);
	cr_assert_null(key_of(c, "STRASSE@example.com"));
	cr_assert_str_eq(k = key_of(c, "plain@example.com"), "plain@example.com");
	free(k);

	/* Again (a second replica, the next start): nothing changes. */
	cr_assert_eq(user_repo_fill_email_keys(d, &filled, &left, &st), RPC_OK, "%s", st.message);
	cr_assert_eq(filled, 0);
	cr_assert_eq(left, 2);

	/* The addresses stay taken in every spelling; a new one is not. */
	const char *taken[] = {"Äbc.X@example.com", "äbc.x@example.com", "STRASSE@example.com", "Plain@Example.com"};
	for (size_t i = 0; i < sizeof(taken) / sizeof(taken[0]); i++) {
		user_record rec;
		int replayed;
		rpc_status_clear(&st);
		cr_assert_eq(user_repo_create(d, "New", taken[i], "req", NULL, &rec, &replayed, &st),
		    RPC_ALREADY_EXISTS, "%s", taken[i]);
	}
	user_record rec;
	int replayed;
	rpc_status_clear(&st);
	cr_assert_eq(user_repo_create(d, "New", "Fresh@example.com", "req", NULL, &rec, &replayed, &st), RPC_OK, "%s",
	    st.message);
	cr_assert_str_eq(rec.email, "Fresh@example.com", "stored as given");
	cr_assert_str_eq(k = key_of(c, "Fresh@example.com"), "fresh@example.com");
	free(k);
	db_free(d);
	PQfinish(c);
}
