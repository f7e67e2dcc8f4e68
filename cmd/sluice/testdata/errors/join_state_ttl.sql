CREATE STREAM a WITH ('type'='file_source', 'path'='t.jsonl');
CREATE STREAM b WITH ('type'='file_source', 'path'='t.jsonl');
SELECT a.s, b.s AS bs FROM a JOIN b ON a.a = b.a
WITH ('join.state.ttl' = 'forever');
SELECT s FROM a
WITH ('join.state.ttl' = '-1h');
