package mem

import (
	"sync"

	"github.com/sluicesql/sluice/connector"
)

// DeadLetters is a dead-letter queue that keeps every entry in memory, for
// tests. It is safe for concurrent use.
type DeadLetters struct {
	mu   sync.Mutex
	list []connector.DeadLetter
}

// Add implements connector.DeadLetters.
func (d *DeadLetters) Add(l connector.DeadLetter) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.list = append(d.list, l)
}

// All returns the entries so far, in the order they came.
func (d *DeadLetters) All() []connector.DeadLetter {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]connector.DeadLetter(nil), d.list...)
}
