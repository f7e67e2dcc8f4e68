// Package bench measures Sluice end to end on the reference's benchmark
// scenarios (shared/spec/reference-notes.md §4) and checks every answer.
//
// For each scenario it writes the data once (JSON lines, or "station;temp"
// text for 1BRC), then runs the query through the real job (plan.Build,
// exec.Compile, job.Run) in several modes: records decoded beforehand in
// memory, a JSON-lines file, a 1BRC text file, and a Kafka topic on an
// in-process kfake cluster; each with 1, 2 (or the given) partitions and the
// automatic strategy, or every strategy the planner accepts. The sink is a
// blackhole that keeps only an order-independent digest of the result.
//
// Beside the engine it runs the limit: a hand-written Go loop computing the
// same answer from the same decoded records, batch by batch as the engine
// does, into the same digest. Every run's digest must equal the limit's, so a
// fast wrong answer fails the run.
//
// The Go peer (github.com/rulego/streamsql) lives in its own module,
// bench/peers, so that Sluice does not depend on it; Run starts it as a
// separate process only when Config.Peer names a command.
package bench
