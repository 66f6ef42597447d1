-- The operator API: its users, refresh tokens, shared rate-limit counters, idempotent
-- writes and the audit log of trading actions. Every API instance reads and writes these,
-- so limits and idempotency hold across instances (Knative scales the api function out).

CREATE TABLE IF NOT EXISTS api_users (
    username      text        PRIMARY KEY CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
    password_hash text        NOT NULL,           -- argon2id, encoded with its parameters
    role          text        NOT NULL CHECK (role IN ('viewer', 'trader', 'admin')),
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Refresh tokens are stored as SHA-256 digests: a database read does not yield a usable token.
CREATE TABLE IF NOT EXISTS api_refresh_tokens (
    token_hash  text        PRIMARY KEY,
    username    text        NOT NULL REFERENCES api_users (username) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per (bucket, fixed window): "user:<name>" or "addr:<ip>".
CREATE UNLOGGED TABLE IF NOT EXISTS api_rate_windows (
    bucket       text        NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer     NOT NULL,
    PRIMARY KEY (bucket, window_start)
);

CREATE TABLE IF NOT EXISTS api_idempotency (
    username     text        NOT NULL,
    key          text        NOT NULL,
    method       text        NOT NULL,
    path         text        NOT NULL,
    request_hash text        NOT NULL,            -- SHA-256 of method, path and body
    status       integer,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (username, key)
);

CREATE TABLE IF NOT EXISTS api_audit (
    id              bigserial   PRIMARY KEY,
    at              timestamptz NOT NULL DEFAULT now(),
    username        text        NOT NULL,
    role            text        NOT NULL,
    action          text        NOT NULL,         -- e.g. "kill_switch.engage"
    target          text,
    idempotency_key text,
    request         jsonb,
    outcome         text        NOT NULL,         -- "ok" or the refusal's code
    status          integer     NOT NULL
);
CREATE INDEX IF NOT EXISTS api_audit_at ON api_audit (at DESC);
