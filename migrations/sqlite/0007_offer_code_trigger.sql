-- An offer's pre-authorized code is written by the database in the same statement as the offer,
-- so an offer is stored in one statement and never without its code.
CREATE TRIGGER credential_offers_code AFTER INSERT ON credential_offers
BEGIN
    INSERT INTO secrets (kind, hash, subject_id, expires_at)
    VALUES ('pre-authorized_code', NEW.code_hash, NEW.certificate_id, NEW.expires_at);
END;
