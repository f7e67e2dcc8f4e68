CREATE STREAM events (a BIGINT, s STRING) WITH ('type'='file_source', 'path'='t.jsonl');
-- declared and read by no statement: still checked
CREATE STREAM spare (a BIGINT) WITH ('type'='file_source', 'pth'='t.jsonl');

SELECT a FROM events;
