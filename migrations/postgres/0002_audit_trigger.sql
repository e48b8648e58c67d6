-- The audit event of a new certificate is written by the database in the same statement as the
-- certificate, so no code path can insert one without the other. The actor is the owning client.
CREATE FUNCTION certificates_audit_created() RETURNS trigger AS $$
BEGIN
    INSERT INTO audit_log (at, actor, action, certificate_id, detail)
    VALUES (NEW.created_at, NEW.client_id, 'certificate.created', NEW.id, NEW.type_id);
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER certificates_audit_created AFTER INSERT ON certificates
    FOR EACH ROW EXECUTE FUNCTION certificates_audit_created();
