CREATE STREAM trades (trader_id BIGINT, symbol STRING, price DECIMAL(10,2), quantity INT, trade_time TIMESTAMP)
WITH ('type'='file_source', 'path'='data/trades.jsonl');

CREATE TABLE traders (trader_id BIGINT NOT NULL, name VARCHAR(40), region STRING, PRIMARY KEY (trader_id) NOT ENFORCED)
WITH ('type'='kafka_source', 'topic.name'='traders');

CREATE TABLE accounts (id BIGINT PRIMARY KEY, owner STRING) WITH ('type'='file_source', 'path'='a.jsonl');

CREATE STREAM events WITH ('type'='file_source', 'path'='events.jsonl');

CREATE STREAM nested (id BIGINT, payload ROW<user ROW<id BIGINT, name STRING>, score DOUBLE PRECISION>, tags ARRAY<STRING>, s STRUCT(a INT), ts TIMESTAMP(3), flag BOOLEAN, plain)
WITH ('type'='file_source', 'path'='n.jsonl');

SELECT * EXCEPT (price, quantity), t.* EXCLUDE (symbol), t.* EXCLUDE trader_id FROM trades t;

SELECT payload.user.id, t.payload.user.name AS n, tags[1], payload.tags[2 + 1][1], -tags[1] FROM events t WHERE payload.user.id > 0;

SELECT items[1].sku, t.items[2].price.amount AS a, items[1].tags[2], items[1].tags[2].x FROM events t WHERE items[1].qty > 1;
