SELECT CAST(a AS BIGNT) AS b FROM t WITH ('t.type'='file_source', 't.path'='t.jsonl');
