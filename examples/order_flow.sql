-- Chained stream-stream joins: each order meets its payment (same
-- order_id, paid within 5 minutes of the order), and each paid order then
-- meets the fraud alerts raised on its card within a minute of the
-- payment. The two joins are on different keys, so between them the rows
-- are exchanged on p.card, inside the process, to the workers the alerts
-- are hashed to. o3 was paid too late (10 minutes) and has no row; LEFT
-- keeps the paid orders without an alert (o1's alert came 4.5 minutes
-- after its payment, o6's 9 minutes) with NULLs.
--   go run ./cmd/sluice run examples/order_flow.sql
--   go run ./cmd/sluice explain examples/order_flow.sql
SELECT o.order_id, o.customer, p.amount, p.card, a.reason, a.alert_time
FROM orders o
JOIN payments p ON o.order_id = p.order_id WITHIN INTERVAL '5' MINUTES
LEFT JOIN card_alerts a ON p.card = a.card
  AND a.alert_time BETWEEN p.paid_at - INTERVAL '1' MINUTE AND p.paid_at + INTERVAL '1' MINUTE
WITH ('orders.type' = 'file_source',
      'orders.path' = 'examples/data/orders.jsonl',
      'orders.event.time.field' = 'order_time',
      'payments.type' = 'file_source',
      'payments.path' = 'examples/data/payments.jsonl',
      'payments.event.time.field' = 'paid_at',
      'card_alerts.type' = 'file_source',
      'card_alerts.path' = 'examples/data/card_alerts.jsonl',
      'card_alerts.event.time.field' = 'alert_time');
