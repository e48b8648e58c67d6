-- The authorization code flow: pushed authorization requests, login sessions at the upstream
-- OpenID provider, and authorization codes. Each is stored by the hash of its secret and taken
-- once. `data` is JSON of request parameters, never personal data.
CREATE TABLE authorization_sessions (
    kind            TEXT NOT NULL,
    hash            TEXT NOT NULL,
    certificate_id  TEXT NOT NULL,
    data            TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,
    PRIMARY KEY (kind, hash)
);

-- Credential identifiers an access token grants (authorization_details), as a JSON array; NULL
-- when the token was requested without authorization_details.
ALTER TABLE access_tokens ADD COLUMN credential_identifiers TEXT;
