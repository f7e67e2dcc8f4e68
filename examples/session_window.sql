-- Session window: a user's clicks less than 30 seconds apart form one
-- session. The clicks arrive slightly out of order, so the watermark
-- waits up to a minute for stragglers.
--   go run ./cmd/sluice run examples/session_window.sql
SELECT user_id,
       _WINDOW_START AS session_start,
       _WINDOW_END AS session_end,
       COUNT(*) AS clicks
FROM clicks
GROUP BY user_id
WINDOW SESSION(click_time, INTERVAL '30' SECOND)
EMIT FINAL
WITH ('clicks.type' = 'file_source',
      'clicks.path' = 'examples/data/clicks.jsonl',
      'watermark.max_out_of_orderness' = '1m');
