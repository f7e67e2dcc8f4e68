package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// TestSecondMemberStopsUnsplittableJob runs a GROUP BY symbol over a topic
// keyed by trader_id in one consumer group: the first process reads every
// partition; when a second process joins, the group splits the partitions,
// each process would count part of each symbol, so both stop with an error
// instead of writing partial counts.
func TestSecondMemberStopsUnsplittableJob(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades")
	trades := genTrades(t, 2000, 50)
	produce(t, brokers, "trades", keyBy(trades, byTrader))
	dir := t.TempDir()
	stmt := func(out string) string {
		return fmt.Sprintf("CREATE STREAM per_symbol AS SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol EMIT CHANGES "+
			"WITH (%s, 'per_symbol.type'='file_sink', 'per_symbol.path'='%s', 'repartition'='false', 'commit.interval'='20ms')",
			kafkaTrades(brokers, "group.id", "shared", "session.timeout.ms", "6000"), out)
	}
	ctx, cancel := testContext(t)
	defer cancel()
	a := startMember(t, ctx, stmt(filepath.Join(dir, "a.jsonl")), filepath.Join(dir, "a.jsonl"))
	waitFor(t, "process a reads", func() bool { return a.in.Load() > 0 })
	b := startMember(t, ctx, stmt(filepath.Join(dir, "b.jsonl")), filepath.Join(dir, "b.jsonl"))
	bothStop(t, ctx, a, b, "symbol")
	for _, want := range []string{"Run one process; or drop 'repartition'='false', so that", `; or partition topic "trades" by the statement's key`} {
		if !strings.Contains(a.err.Error(), want) {
			t.Errorf("err = %v, want the remedies named (%q)", a.err, want)
		}
	}
}

// bothStop waits for members a and b of a group to stop, and checks that
// each says the group has another member, naming what the split breaks.
func bothStop(t *testing.T, ctx context.Context, a, b *member, what string) {
	t.Helper()
	for name, m := range map[string]*member{"a": a, "b": b} {
		select {
		case <-m.done:
		case <-ctx.Done():
			t.Fatalf("process %s did not stop when the group got a second member (a: in %d, b: in %d); goroutines:\n%s",
				name, a.in.Load(), b.in.Load(), goroutines())
		}
		if m.err == nil || !strings.Contains(m.err.Error(), "has another member") || !strings.Contains(m.err.Error(), what) {
			t.Errorf("process %s: err = %v, want the group's second member named with the %s it splits", name, m.err, what)
		}
	}
}

// TestRepartitionTrueRefused: 'repartition'='true' where a repartition
// topic cannot help is an error before anything is read: without a
// consumer group, and for a result that needs every record in one process.
func TestRepartitionTrueRefused(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades")
	for _, tt := range []struct{ text, want string }{
		{fmt.Sprintf("SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol WITH (%s, 'repartition'='true')", kafkaTrades(brokers)),
			"needs 'trades.group.id'"},
		{fmt.Sprintf("SELECT COUNT(*) AS n FROM trades WITH (%s, 'repartition'='true')", kafkaTrades(brokers, "group.id", "g")),
			"cannot split this statement"},
		{fmt.Sprintf("SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol WITH (%s, 'repartition'='maybe')", kafkaTrades(brokers, "group.id", "g")),
			"valid: true, false"},
	} {
		stmts, err := sql.Parse("e2e.sql", tt.text)
		if err != nil {
			t.Fatal(err)
		}
		_, err = runner.Prepare(context.Background(), stmts[0], runner.Options{})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Prepare(%s): err = %v, want one with %q", tt.text, err, tt.want)
		}
	}
}
