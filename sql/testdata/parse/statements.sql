/* Statement kinds, annotations, comments and case. */
-- @job_mode: streaming
-- @batch_size: 500
-- @Partitioning_Strategy: Kept Verbatim  
INSERT INTO enriched SELECT o.id, c.tier FROM orders o JOIN customers c ON o.cid = c.id;

-- @partitioning_strategy: sticky_partition
CREATE TABLE totals AS SELECT k PRIMARY KEY, SUM(v) AS total FROM s GROUP BY k EMIT CHANGES;

-- a plain comment does not annotate
-- @partitioning_strategy: fan_in
cReAtE sTrEaM "Out Stream" As SeLeCt /* inline */ a -- trailing
  FrOm src;

SELECT 1 AS one FROM src -- no annotation here
;;
