// Package e2e holds Sluice's end-to-end tests: SQL statements parsed,
// planned and run by the runner against an in-process Kafka cluster
// (franz-go's kfake) and files, checking partitioning choices, results,
// restarts, rebalances and dead letters across every package at once. It
// has no non-test code.
package e2e
