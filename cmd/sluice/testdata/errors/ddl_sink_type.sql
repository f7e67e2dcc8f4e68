CREATE STREAM events (a BIGINT, s STRING) WITH ('type'='file_source', 'path'='t.jsonl');
CREATE STREAM out (a BIGINT) WITH ('type'='file_sink', 'path'='out.jsonl');

INSERT INTO out SELECT a FROM events;
