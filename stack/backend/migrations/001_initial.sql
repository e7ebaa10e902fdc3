-- Initial schema for the reference trading-signals platform.
CREATE TABLE IF NOT EXISTS users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS signals (
    id          BIGSERIAL PRIMARY KEY,
    instrument  TEXT NOT NULL,
    side        TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    price       DOUBLE PRECISION NOT NULL CHECK (price > 0),
    quality     DOUBLE PRECISION NOT NULL CHECK (quality >= 0 AND quality <= 1),
    source      TEXT NOT NULL,
    client_ref  TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS signals_created_at_idx ON signals (created_at);

CREATE TABLE IF NOT EXISTS approvals (
    id          BIGSERIAL PRIMARY KEY,
    signal_id   BIGINT NOT NULL UNIQUE REFERENCES signals (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    decision    SMALLINT NOT NULL CHECK (decision IN (0, 1)),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS approvals_created_at_idx ON approvals (created_at);

CREATE TABLE IF NOT EXISTS devices (
    device_id   TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    secret      TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at  TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS devices_user_id_idx ON devices (user_id);

CREATE TABLE IF NOT EXISTS ea_acks (
    device_id   TEXT NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
    signal_id   BIGINT NOT NULL REFERENCES signals (id) ON DELETE CASCADE,
    acked_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, signal_id)
);

CREATE TABLE IF NOT EXISTS webhook_events (
    id          BIGSERIAL PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS payments (
    id          BIGSERIAL PRIMARY KEY,
    event_id    TEXT NOT NULL UNIQUE,
    customer    TEXT,
    amount      BIGINT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
