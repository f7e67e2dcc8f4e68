package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// health tracks whether a client's brokers answer, from its hooks: a
// successful read from a broker marks them reachable; a failed dial or read
// after it starts an outage.
type health struct {
	lastOK   atomic.Int64 // unix nanoseconds of the last successful read (or of the start)
	failedAt atomic.Int64 // unix nanoseconds of the last failure, 0 for none since lastOK
	mu       sync.Mutex
	lastErr  error
}

func newHealth() *health {
	h := &health{}
	h.lastOK.Store(time.Now().UnixNano())
	return h
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (h *health) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	if err != nil {
		h.fail(err)
	}
}

// OnBrokerRead implements kgo.HookBrokerRead.
func (h *health) OnBrokerRead(_ kgo.BrokerMetadata, _ int16, _ int, _, _ time.Duration, err error) {
	if err != nil {
		h.fail(err)
		return
	}
	h.lastOK.Store(time.Now().UnixNano())
	h.failedAt.Store(0)
}

func (h *health) fail(err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
		return // this process stopped asking (a stop, a rebalance), not a broker that failed
	}
	h.mu.Lock()
	h.lastErr = err
	h.mu.Unlock()
	h.failedAt.Store(time.Now().UnixNano())
}

// down returns how long the brokers have not answered (0 while they do)
// and the last error seen.
func (h *health) down(now time.Time) (time.Duration, error) {
	if h.failedAt.Load() == 0 {
		return 0, nil
	}
	h.mu.Lock()
	err := h.lastErr
	h.mu.Unlock()
	return now.Sub(time.Unix(0, h.lastOK.Load())), err
}

// healthTick is how often a source checks whether its brokers answer.
const healthTick = time.Second

// watchHealth warns once when the brokers stop answering (and says whether
// the source retries forever) and, past '<n>.unavailable.timeout', fails
// the source. It returns when stop closes.
func (s *Source) watchHealth(stop <-chan struct{}) {
	defer s.wg.Done()
	tick := healthTick
	if s.cfg.unavailableTimeout > 0 {
		tick = min(tick, max(s.cfg.unavailableTimeout/4, 10*time.Millisecond))
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	warned := false
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			d, err := s.health.down(now)
			switch {
			case d == 0:
				if warned {
					s.logger().Info("kafka brokers reachable again")
				}
				warned = false
			case d >= s.cfg.unavailableTimeout && s.cfg.unavailableTimeout > 0:
				s.fail(fmt.Errorf("kafka source %q: brokers %v unreachable for %s, longer than '%s.unavailable.timeout' (%s): stopping; last error: %v",
					s.cfg.name, s.cfg.conn.Brokers, d.Round(time.Second), s.cfg.name, s.cfg.unavailableTimeout, err))
				return
			case !warned && d >= healthTick:
				warned = true
				s.logger().Warn("kafka brokers unreachable", "for", d.Round(time.Second), "retrying", s.retryText(), "error", err)
			}
		}
	}
}

// retryText says how long the source retries unreachable brokers.
func (s *Source) retryText() string {
	if s.cfg.unavailableTimeout <= 0 {
		return fmt.Sprintf("forever ('%s.unavailable.timeout' not set)", s.cfg.name)
	}
	return "until " + s.cfg.unavailableTimeout.String()
}

// Unavailable returns how long the source's brokers have not answered: 0
// while they do. It is safe for concurrent use.
func (s *Source) Unavailable() time.Duration {
	if s.health == nil {
		return 0
	}
	d, _ := s.health.down(time.Now())
	return d
}

// UnavailableTimeout returns how long the source retries unreachable
// brokers before it stops ('<n>.unavailable.timeout'): 0 is forever.
func (s *Source) UnavailableTimeout() time.Duration { return s.cfg.unavailableTimeout }

// Status describes the source's state for a progress line: "" while its
// brokers answer, else for how long they have not and how long it retries.
func (s *Source) Status() string {
	d := s.Unavailable()
	if d < healthTick {
		return ""
	}
	return fmt.Sprintf("source %s: brokers unreachable for %s, retrying %s", s.cfg.name, d.Round(time.Second), s.retryText())
}

// fail stops the source with err: Failed closes and Failure returns err.
func (s *Source) fail(err error) {
	s.failOnce.Do(func() {
		s.mu.Lock()
		s.failure = err
		s.mu.Unlock()
		close(s.failed)
	})
}

// Failed returns a channel closed when the source cannot go on (its brokers
// were unreachable longer than '<n>.unavailable.timeout').
func (s *Source) Failed() <-chan struct{} { return s.failed }

// Failure returns why the source failed, once Failed is closed.
func (s *Source) Failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failure
}
