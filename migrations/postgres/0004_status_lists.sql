-- Each certificate's entry in a status list: the list number and a random index in it. Certificates
-- stored before status lists existed have neither, and their credentials carry no status.
ALTER TABLE certificates ADD COLUMN status_list BIGINT;
ALTER TABLE certificates ADD COLUMN status_index BIGINT;
CREATE UNIQUE INDEX certificates_by_status_entry ON certificates (status_list, status_index)
    WHERE status_list IS NOT NULL;
