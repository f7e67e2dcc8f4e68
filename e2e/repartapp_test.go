package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/app"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// TestApplicationStatementsShareAGroup runs an application of two
// unaligned windowed GROUP BYs over two topics in one consumer group, in
// two processes: each statement gets its own repartition topic
// (<group.id>-<statement>-repartition), and each writes exactly the
// windows it writes alone in one process.
func TestApplicationStatementsShareAGroup(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades", "trades2")
	first, second := genTrades(t, 6000, 40), genTrades(t, 3000, 30)
	produce(t, brokers, "trades", keyBy(first, byTrader))
	produce(t, brokers, "trades2", keyBy(second, byTrader))
	wantFirst, wantSecond := singleProcess(t, first), singleProcess(t, second)

	stmt := func(name, topic, out string) string {
		s := strings.Replace(fmt.Sprintf(perSymbolWindow, kafkaTrades(brokers, "group.id", "app", "session.timeout.ms", "6000", "topic.name", topic), out),
			"per_symbol", name, -1)
		return s + ";\n"
	}
	ctx, cancel := testContext(t)
	defer cancel()
	dir := t.TempDir()
	var runs []*app.Run
	for p := range 2 {
		src := stmt("per_symbol", "trades", filepath.Join(dir, fmt.Sprintf("a%d.jsonl", p))) +
			stmt("per_symbol2", "trades2", filepath.Join(dir, fmt.Sprintf("b%d.jsonl", p)))
		stmts, err := sql.Parse("app.sql", src)
		if err != nil {
			t.Fatal(err)
		}
		a, err := app.New("app.sql", src, stmts, nil)
		if err != nil {
			t.Fatalf("%v\n%s", err, src)
		}
		run, err := a.Start(ctx, runner.Options{Partitions: 2, UntilEnd: true}, app.Hooks{})
		if err != nil {
			t.Fatalf("start: %v\n%s", err, src)
		}
		runs = append(runs, run)
	}
	for _, run := range runs {
		waitApp(t, ctx, run)
	}
	sameLines(t, "per_symbol over trades", windowRows(t, filepath.Join(dir, "a0.jsonl"), filepath.Join(dir, "a1.jsonl")), wantFirst)
	sameLines(t, "per_symbol2 over trades2", windowRows(t, filepath.Join(dir, "b0.jsonl"), filepath.Join(dir, "b1.jsonl")), wantSecond)
	topics, err := admin(t, brokers).ListTopics(ctx, "app-per_symbol-repartition", "app-per_symbol2-repartition")
	if err != nil || len(topics["app-per_symbol-repartition"].Partitions) == 0 || len(topics["app-per_symbol2-repartition"].Partitions) == 0 {
		t.Errorf("repartition topics %v, %v: want one per statement", topics.Names(), err)
	}
}
