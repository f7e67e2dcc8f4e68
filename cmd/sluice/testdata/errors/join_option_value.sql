CREATE STREAM events WITH ('type'='file_source', 'path'='t.jsonl');
CREATE TABLE names (a BIGINT, name STRING, PRIMARY KEY (a)) WITH ('type'='file_source', 'path'='t.jsonl');
SELECT e.s, n.name
FROM events e JOIN names n ON e.a = n.a
WITH ('names.broadcast' = 'sure');
