-- The event archive: events staged by the archiver until archive-flush writes them to
-- object storage, and the manifest of every object written (the archive's table of contents).

CREATE TABLE IF NOT EXISTS archive_staging (
    seq         bigserial   PRIMARY KEY,          -- arrival order (per partition = the topic's order)
    topic       text        NOT NULL,
    event_id    text        NOT NULL,
    partition   integer     NOT NULL,             -- the Kafka partition its key maps to (-1: no key)
    event_time  timestamptz NOT NULL,             -- the event's `time`
    hour_start  timestamptz NOT NULL,             -- event_time truncated to its UTC hour: dt= and hour=
    envelope    text        NOT NULL,             -- the structured-mode CloudEvent, as received
    object_key  text,                             -- set when sealed into a (pending) object
    staged_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (topic, event_id)
);
CREATE INDEX IF NOT EXISTS archive_staging_open ON archive_staging (topic, hour_start, seq) WHERE object_key IS NULL;
CREATE INDEX IF NOT EXISTS archive_staging_sealed ON archive_staging (object_key) WHERE object_key IS NOT NULL;

CREATE TABLE IF NOT EXISTS archive_objects (
    id              bigserial   PRIMARY KEY,      -- sealing order
    object_key      text        NOT NULL UNIQUE,
    topic           text        NOT NULL,
    dt              date        NOT NULL,
    hour            smallint    NOT NULL CHECK (hour BETWEEN 0 AND 23),
    event_count     integer     NOT NULL CHECK (event_count > 0),
    first_event_id  text        NOT NULL,
    last_event_id   text        NOT NULL,
    first_seq       bigint      NOT NULL,
    last_seq        bigint      NOT NULL,
    min_time        timestamptz NOT NULL,
    max_time        timestamptz NOT NULL,
    bytes           bigint      NOT NULL,
    sha256          text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('pending', 'complete')),
    sealed_at       timestamptz NOT NULL DEFAULT now(),
    completed_at    timestamptz
);
CREATE INDEX IF NOT EXISTS archive_objects_by_day ON archive_objects (topic, dt, hour);
CREATE INDEX IF NOT EXISTS archive_objects_pending ON archive_objects (id) WHERE status = 'pending';

-- What a replay target already received (its own database): a second replay adds nothing.
CREATE TABLE IF NOT EXISTS replay_ledger (
    topic       text        NOT NULL,
    event_id    text        NOT NULL,
    replayed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, event_id)
);
