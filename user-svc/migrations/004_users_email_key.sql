-- Email uniqueness by a key user-svc computes (proto/utf8.c,
-- utf8_caseless_key: NFC of the full Unicode case folding, utf8proc), no
-- longer by lower(email): lower() follows the database's LC_CTYPE, so the
-- C-locale test cluster let 'ÄBC.x@example.com' and 'äbc.x@example.com'
-- both in while an ICU or en_US cluster refused the second. The email is
-- still stored as given.
ALTER TABLE users ADD COLUMN email_key text;
CREATE UNIQUE INDEX users_email_key ON users (email_key);
-- Rows created before this migration have no key yet: user-svc fills them
-- at start, before it serves (user_repo_fill_email_keys), and a row whose
-- key an earlier row already holds keeps none (logged): that address stays
-- taken through the earlier row. This index finds the rows without a key.
CREATE INDEX users_email_key_missing ON users (id) WHERE email_key IS NULL;
DROP INDEX users_email_lower_key;
