package job

import (
	"slices"
	"testing"

	"github.com/sluicesql/sluice/record"
)

func TestShareGroupsIndexesByDestinationInOrder(t *testing.T) {
	tests := []struct {
		name      string
		dst       []int
		parts     int
		wantOrder []int32
		wantStart []int32
	}{
		{"all to one", []int{1, 1, 1}, 2, []int32{0, 1, 2}, []int32{0, 0, 3}},
		{"interleaved", []int{0, 1, 0, 1, 1}, 2, []int32{0, 2, 1, 3, 4}, []int32{0, 2, 5}},
		{"empty middle", []int{2, 0, 2, 0}, 3, []int32{1, 3, 0, 2}, []int32{0, 2, 2, 4}},
		{"single", []int{0}, 1, []int32{0}, []int32{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &record.Batch{Records: make([]record.Record, len(tt.dst))}
			start, pos := make([]int32, tt.parts+1), make([]int32, tt.parts)
			start[1] = 99 // stale scratch must not leak into the result
			sb := share(b, tt.dst, start, pos)
			if !slices.Equal(sb.order, tt.wantOrder) || !slices.Equal(start, tt.wantStart) {
				t.Fatalf("order %v start %v, want %v %v", sb.order, start, tt.wantOrder, tt.wantStart)
			}
			if sb.b != b || sb.refs.Load() != 1 {
				t.Fatalf("batch %p refs %d, want %p and 1", sb.b, sb.refs.Load(), b)
			}
		})
	}
}
