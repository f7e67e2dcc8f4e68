CREATE STREAM events WITH ('type'='file_source', 'path'='t.jsonl');
CREATE TABLE names (id BIGINT, name STRING, PRIMARY KEY (id)) WITH ('type'='file_source', 'path'='t.jsonl');
SELECT e.a, n.name
FROM events e
JOIN names n ON e.s = n.id;
