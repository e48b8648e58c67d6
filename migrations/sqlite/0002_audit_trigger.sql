-- The audit event of a new certificate is written by the database in the same statement as the
-- certificate, so no code path can insert one without the other. The actor is the owning client.
CREATE TRIGGER certificates_audit_created AFTER INSERT ON certificates
BEGIN
    INSERT INTO audit_log (at, actor, action, certificate_id, detail)
    VALUES (NEW.created_at, NEW.client_id, 'certificate.created', NEW.id, NEW.type_id);
END;
