package kafka

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// TestRepartitionRowDeadLetteredAtItsOrigin: a row of the repartition
// topic that stage 2 cannot decode is dead-lettered at its record's place
// in the source (the origin header's), with its place in the topic as
// Via and the topic's bytes.
func TestRepartitionRowDeadLetteredAtItsOrigin(t *testing.T) {
	brokers := startCluster(t, "rp")
	base, err := NewSource("trades", sourceProps(brokers, "group.id", "corrupt"))
	if err != nil {
		t.Fatal(err)
	}
	src := base.RepartitionSource("rp", nil, 8, nil, func(*record.Record, int64) bool { return false })
	dlq := &mem.DeadLetters{}
	openCollectedTo(t, src, dlq)
	row := []byte{rowBinary, 1, 2}
	produceRecords(t, brokers, &kgo.Record{Topic: "rp", Partition: 3, Value: row,
		Headers: []kgo.RecordHeader{{Key: originHeader, Value: appendOrigin(nil, 5, 1207, noWatermark, 0, 0)}}})
	waitFor(t, "the row's dead letter", func() bool { return len(dlq.All()) > 0 })
	d := dlq.All()[0]
	if d.Source != "trades" || d.Partition != 5 || d.Offset != 1207 || string(d.Raw) != string(row) ||
		d.Via == nil || *d.Via != (connector.Place{Topic: "rp", Partition: 3, Offset: 0}) || !strings.Contains(d.Reason, "corrupt repartition row") {
		t.Errorf("dead letter %s %d/%d raw %x via %+v reason %q; want trades 5/1207, the row's bytes, via rp 3/0, a corrupt row", d.Source, d.Partition, d.Offset, d.Raw, d.Via, d.Reason)
	}
}
