-- Each index row carries the Patient its resource belongs to: the one Patient its `patient`
-- search parameter names ('~' when it names several, '' when none; a Patient's rows carry
-- its own id). `Patient?_has:Observation:patient:code=X` then reads the patients straight off
-- the rows of the matching Observations (one range scan of the primary key) instead of
-- probing one reference per Observation. Existing rows are filled by the reindex that the new
-- row layout triggers at start (core/src/reindex.rs).
ALTER TABLE search_index ADD COLUMN patient TEXT NOT NULL DEFAULT '';
