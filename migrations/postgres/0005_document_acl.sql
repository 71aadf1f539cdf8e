-- Per-document permissions: the same columns and meanings as migrations/sqlite/0005_document_acl.sql.
ALTER TABLE documents ADD COLUMN acl TEXT;
ALTER TABLE documents ADD COLUMN acl_file TEXT;
ALTER TABLE documents ADD COLUMN page_acl TEXT;
UPDATE documents SET acl = (SELECT s.acl FROM sources s WHERE s.id = documents.source_id);
