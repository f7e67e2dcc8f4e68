package kafkatest

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Cluster starts an in-process Kafka cluster with opts, closed when t and
// its cleanups end; a test may close it earlier to take it away. Its
// classic consumer groups keep and expire their members as Kafka's
// coordinator does where kfake differs (sessions).
func Cluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	stop, err := Watch(c)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(stop) // before the cluster closes
	return c
}

// Watch keeps and expires the members of c's classic consumer groups as
// Kafka's coordinator does where kfake differs (see Cluster) until stop,
// which returns once that stopped (also on a cluster closed first).
func Watch(c *kfake.Cluster) (stop func(), err error) {
	s, err := watchSessions(c)
	if err != nil {
		return nil, err
	}
	return s.close, nil
}
