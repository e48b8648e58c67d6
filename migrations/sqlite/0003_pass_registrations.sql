-- Devices registered through the PassKit web service for updates of a pass. The serial number of
-- a pass is its certificate's id; a device gets a push when the certificate changes.
CREATE TABLE pass_registrations (
    device_library_id  TEXT NOT NULL,
    pass_type_id       TEXT NOT NULL,
    serial_number      TEXT NOT NULL REFERENCES certificates (id),
    push_token         TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    PRIMARY KEY (device_library_id, pass_type_id, serial_number)
);
CREATE INDEX pass_registrations_by_serial ON pass_registrations (serial_number);
CREATE INDEX pass_registrations_by_push_token ON pass_registrations (push_token);
