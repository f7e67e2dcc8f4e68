CREATE STREAM events (a BIGINT, s STRING) WITH ('type'='file_source', 'path'='t.jsonl');
CREATE STREAM per AS SELECT s, AVG(a) AS mean FROM events GROUP BY s;
SELECT s, mean + 'x' AS bad FROM per;
