CREATE TABLE accounts (a BIGINT, s STRING, PRIMARY KEY (a))
WITH ('type'='file_source', 'path'='t.jsonl', 'primary.key'='s');

SELECT a, s FROM accounts;
