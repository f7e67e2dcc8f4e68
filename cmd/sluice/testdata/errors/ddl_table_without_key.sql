CREATE TABLE names (a BIGINT, name STRING) WITH ('type'='file_source', 'path'='t.jsonl');
SELECT name FROM names;
