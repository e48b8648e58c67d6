-- OpenID4VCI issuance state. Every code, token and id is stored as a SHA-256 hash.

-- A credential offer. Its pre-authorized code lives in `secrets` (kind 'pre-authorized_code',
-- subject the certificate id), so withdrawing an offer means deleting that secret. This row keeps
-- what a by-reference offer and the transaction code check need.
CREATE TABLE credential_offers (
    id_hash          TEXT PRIMARY KEY,
    code_hash        TEXT NOT NULL UNIQUE,
    certificate_id   TEXT NOT NULL REFERENCES certificates (id),
    -- Hash of the pre-authorized code and the transaction code together; NULL without one.
    tx_code_hash     TEXT,
    tx_code_length   INTEGER,
    failed_attempts  INTEGER NOT NULL DEFAULT 0,
    expires_at       INTEGER NOT NULL
);
CREATE INDEX credential_offers_by_certificate ON credential_offers (certificate_id);

CREATE TABLE access_tokens (
    hash                    TEXT PRIMARY KEY,
    certificate_id          TEXT NOT NULL,
    -- The OAuth client the token was issued to; NULL for anonymous pre-authorized access.
    client_id               TEXT,
    -- RFC 7638 thumbprint of the DPoP key the token is bound to; NULL for a bearer token.
    dpop_jkt                TEXT,
    expires_at              INTEGER NOT NULL
);

-- Credentials waiting for a case officer's approval, with the holder keys of the request.
CREATE TABLE deferred_credentials (
    transaction_hash          TEXT PRIMARY KEY,
    certificate_id            TEXT NOT NULL,
    credential_configuration  TEXT NOT NULL,
    holder_jwks               TEXT NOT NULL,
    expires_at                INTEGER NOT NULL
);

CREATE INDEX secrets_by_expiry ON secrets (expires_at);
