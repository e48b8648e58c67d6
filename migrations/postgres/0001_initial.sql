-- Times are Unix seconds. Claims and holder data are AES-256-GCM ciphertext (see crypto/data_key.rs).

CREATE TABLE api_clients (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    key_hash    TEXT NOT NULL UNIQUE,
    types       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE certificates (
    id                 TEXT PRIMARY KEY,
    client_id          TEXT NOT NULL REFERENCES api_clients (id),
    type_id            TEXT NOT NULL,
    status             TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    valid_from         BIGINT NOT NULL,
    valid_until        BIGINT NOT NULL,
    retain_until       BIGINT NOT NULL,
    channels           TEXT NOT NULL,
    data_key_id        TEXT,
    data_nonce         BYTEA,
    data_ciphertext    BYTEA,
    data_deleted_at    BIGINT,
    revoked_at         BIGINT,
    revocation_reason  TEXT
);
CREATE INDEX certificates_by_client ON certificates (client_id, id);
CREATE INDEX certificates_by_retention ON certificates (retain_until) WHERE data_ciphertext IS NOT NULL;

CREATE TABLE idempotency_keys (
    client_id       TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    certificate_id  TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (client_id, idempotency_key)
);

CREATE TABLE secrets (
    kind        TEXT NOT NULL,
    hash        TEXT NOT NULL,
    subject_id  TEXT NOT NULL,
    expires_at  BIGINT NOT NULL,
    PRIMARY KEY (kind, hash)
);

CREATE TABLE audit_log (
    id              BIGSERIAL PRIMARY KEY,
    at              BIGINT NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    certificate_id  TEXT,
    detail          TEXT
);
