-- The texts echo-svc stores.
CREATE TABLE echoes (
	id         bigserial PRIMARY KEY,
	text       text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
