-- Orders, the events already handled (so a redelivery is handled once),
-- and the Idempotency-Keys of recent creates. order_db never holds users:
-- whether a user exists is asked of user-svc.
CREATE TABLE orders (
	id         bigserial PRIMARY KEY,
	user_id    bigint NOT NULL CHECK (user_id > 0),
	product    text NOT NULL,
	price      numeric(15, 2) NOT NULL CHECK (price > 0),
	status     text NOT NULL DEFAULT 'pending'
	           CHECK (status IN ('pending', 'paid', 'shipped', 'completed', 'cancelled')),
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_user_id_id ON orders (user_id, id);

CREATE TABLE processed_events (
	event_id     uuid PRIMARY KEY,
	processed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE idempotency_keys (
	key         text PRIMARY KEY,
	fingerprint text NOT NULL,
	order_id    bigint REFERENCES orders (id),
	created_at  timestamptz NOT NULL DEFAULT now()
);
