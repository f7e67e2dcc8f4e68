package runner

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/sql"
)

// TestAlignedMemberCheckpointsInAnApplication: a consumer-group member of
// a statement aligned with its source's partition key commits its
// checkpoint (watermark and read offsets) with its offsets, so that the
// member the group gives a partition next fences its replay, also when it
// runs in an application (sluice run), whose in-process gate leaves a
// source that writes no in-process stream as it is.
func TestAlignedMemberCheckpointsInAnApplication(t *testing.T) {
	b := kafkaCluster(t, "trades")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stmts, err := sql.Parse("q.sql", fmt.Sprintf(`SELECT k, COUNT(*) AS n FROM trades GROUP BY k EMIT CHANGES
		WITH ('trades.type'='kafka_source', 'trades.bootstrap.servers'='%s', 'trades.group.id'='g', 'trades.partition.key'='k')`, b))
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range []bool{false, true} {
		opts := Options{Partitions: 2}
		if app {
			opts.InProcess = noLinks{}
		}
		j, err := Prepare(ctx, stmts[0], opts)
		if err != nil {
			t.Fatal(err)
		}
		defer j.Discard()
		if !j.Plan.ScaleOut().Split || j.Plan.Repartition != nil {
			t.Fatalf("in an application %v: the statement is not aligned with its source's key", app)
		}
		if _, ok := j.config.Sources[0].(connector.Checkpointer); !ok {
			t.Errorf("in an application %v: the job reads %T, which commits no checkpoint", app, j.config.Sources[0])
		}
	}
}

// noLinks is an application's InProcess for a statement that no other
// statement reads and that reads none.
type noLinks struct{}

func (noLinks) Source(string) (connector.Source, connector.Schema) { return nil, connector.Schema{} }
func (noLinks) Sink(string) connector.Sink                         { return nil }
func (noLinks) Gate(src connector.Source) connector.Source         { return src }
