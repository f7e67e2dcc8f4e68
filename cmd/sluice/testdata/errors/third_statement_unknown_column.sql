CREATE STREAM events WITH ('type'='file_source', 'path'='t.jsonl');

-- the first two statements would print rows: none may run
SELECT a FROM events;
SELECT s,
	COUNT(*) AS n
FROM events GROUP BY s;

SELECT	s,
	SUM(a) AS total,
	MAX(s_) AS last
FROM events
GROUP BY s;
