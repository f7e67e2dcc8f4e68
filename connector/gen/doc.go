// Package gen generates the data of the reference's benchmark scenarios as a
// Sluice source, and writes the same data to files.
//
// A generator source's options are WITH properties prefixed by its name n:
//
//	'n.generator'   trades, market_data, orders or measurements (required)
//	'n.count'       the number of records, or "unbounded" (the default)
//	'n.rate'        records per second over all partitions; 0 (the default) is
//	                as fast as possible
//	'n.keys'        the key cardinality (trader_id, customer_id or station);
//	                0 keeps the generator's default
//	'n.zipf'        the skew exponent of key choice; 0 (the default) is uniform
//	'n.disorder'    the most an event time lags behind its record's position,
//	                in milliseconds (default 0: ascending event times)
//	'n.seed'        the seed of the random choices (default 1)
//	'n.partitions'  the number of source partitions (default 1)
//
// Record i (0, 1, 2, ...) is a pure function of i, the seed and the options,
// whatever the partition count: partition p of P produces the records
// i = p, p+P, p+2P, ... with offsets 0, 1, 2, ... So the same options give
// the same records on every run and the union of the partitions does not
// depend on P. Event times start at 2024-01-15T00:00:00Z and advance 1 ms per
// record. A record's timestamp is its event time; generated records carry no
// original bytes (Raw is nil). Commit does nothing.
//
// The generators (decimals are exact DECIMALs):
//
//	orders        order_id, customer_id, order_date, total_amount: the
//	              reference's scenario 0 (order_id = i, customer_id = i % 1000,
//	              order_date = "2024-01-15", total_amount = 150 + i % 100, 2 dp)
//	market_data   trader_id, symbol, price, quantity, trade_time, timestamp:
//	              scenarios 1 to 3 (trader_id = i % 100, symbol = "SYM" + i % 50,
//	              price = 100 + (i × 0.1) % 50 with 2 dp, quantity = i % 1000,
//	              trade_time = timestamp = the event time)
//	trades        trader_id, symbol, price, quantity, trade_time: random trades
//	              (trader_id among 100, 50 symbols each around its own price,
//	              2 dp, quantity 1 to 1000)
//	measurements  station, temperature: the One Billion Row Challenge (413
//	              stations, each with its mean; temperature with 1 dp)
//
// With zipf or keys set, orders and market_data draw their key instead of
// using the round-robin formula.
package gen
