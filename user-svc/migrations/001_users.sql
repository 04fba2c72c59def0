-- Users, their user_created events waiting in the outbox, and the
-- Idempotency-Keys of recent creates.
CREATE TABLE users (
	id         bigserial PRIMARY KEY,
	name       text NOT NULL,
	email      text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
-- Email uniqueness is case-insensitive and enforced here, not by a read
-- before the write, so two concurrent creates cannot both succeed.
CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email));

-- One row per event not yet confirmed by RabbitMQ. The relay encodes the
-- event from the user row (users never change) and deletes the row only
-- after the broker's confirm.
CREATE TABLE outbox (
	id         bigserial PRIMARY KEY,
	event_id   uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
	user_id    bigint NOT NULL REFERENCES users (id),
	request_id text NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL DEFAULT now()
);

-- Wakes the relay at commit (NOTIFY is delivered only then).
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('outbox', '');
	RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
	FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

CREATE TABLE idempotency_keys (
	key         text PRIMARY KEY,
	fingerprint text NOT NULL,       -- the request it was first used with
	user_id     bigint REFERENCES users (id),
	created_at  timestamptz NOT NULL DEFAULT now()
);
