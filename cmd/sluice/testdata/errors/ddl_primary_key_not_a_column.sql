CREATE TABLE accounts (a BIGINT, s STRING, PRIMARY KEY (id))
WITH ('type'='file_source', 'path'='t.jsonl');
SELECT a FROM accounts;
