// Package kafkatest holds helpers shared by the tests that run Kafka
// clients against an in-process cluster.
package kafkatest

import (
	"context"
	"errors"
	"net"
	"sync"
)

// Cutter is a process's network for its Kafka clients (kgo.Dialer(c.Dial)):
// Kill closes every connection it dialed and refuses new ones, as a process
// killed with -9 stops talking at once (no leave request, no heartbeat).
// The zero value is ready to use.
type Cutter struct {
	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

// Dial dials a broker connection that Kill will cut.
func (c *Cutter) Dial(ctx context.Context, network, host string) (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cut {
		return nil, errors.New("process killed")
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, network, host)
	if err == nil {
		c.conns = append(c.conns, conn)
	}
	return conn, err
}

// Kill closes every connection dialed and makes later dials fail.
func (c *Cutter) Kill() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cut = true
	for _, conn := range c.conns {
		conn.Close()
	}
}
