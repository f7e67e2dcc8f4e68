CREATE STREAM events WITH ('type'='file_source', 'path'='t.jsonl');
CREATE STREAM doubled AS SELECT a * 2 AS a2, s FROM events;
SELECT s, SUM(s) AS bad FROM doubled GROUP BY s;
