-- Per-document permissions: each document keeps the ACL its chunks carry and where it came from, so
-- that an ACL file or front matter below the source can narrow or replace the source's ACL.
-- migrations/postgres/0005_document_acl.sql is the same change on PostgreSQL.
--   acl       JSON list of principals the document's chunks carry; NULL only for rows written before
--             this migration that it could not fill (none: it copies each source's ACL)
--   acl_file  the `.lore-acl` file that governs the document's folder, relative to the source's
--             folder; NULL: the source's ACL applies
--   page_acl  JSON list from the page's own front matter, before narrowing; NULL: no narrowing
ALTER TABLE documents ADD COLUMN acl TEXT;
ALTER TABLE documents ADD COLUMN acl_file TEXT;
ALTER TABLE documents ADD COLUMN page_acl TEXT;
UPDATE documents SET acl = (SELECT s.acl FROM sources s WHERE s.id = documents.source_id);
