package sqlstore

import (
	"math/bits"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPieces: the pieces of every length up to 2,100 put back together are the whole, in order;
// each is of the most, or a power of two below it, the longest first; so a dialect sees at most
// 1 + log2(most) statements of different lengths.
func TestPieces(t *testing.T) {
	for _, most := range []int{500, 50} {
		lengths := map[int]bool{}
		for n := range 2100 {
			s := make([]int, n)
			for i := range s {
				s[i] = i
			}
			var back []int
			prev := most
			for p := range pieces(s, most, nil) {
				require.NotEmpty(t, p)
				require.LessOrEqual(t, len(p), prev, "the longest first")
				require.True(t, len(p) == most || bits.OnesCount(uint(len(p))) == 1, "%d of %d", len(p), n)
				prev = len(p)
				lengths[len(p)] = true
				back = append(back, p...)
			}
			require.True(t, slices.Equal(s, back), "n=%d", n)
		}
		assert.LessOrEqual(t, len(lengths), 1+bits.Len(uint(most)), "statements of few lengths")
	}
	for p := range pieces([]int{1, 2, 3}, 2, nil) {
		assert.Equal(t, []int{1, 2}, p)
		break // a stop ends it
	}
}

// TestPiecesBoundedByBytes: a piece holds no more than maxBytes, but one at least.
func TestPiecesBoundedByBytes(t *testing.T) {
	size := func(n int) int { return n }
	var lens []int
	for p := range pieces([]int{maxBytes / 3, maxBytes / 3, maxBytes / 3, maxBytes / 3, 2 * maxBytes, 1}, 500, size) {
		lens = append(lens, len(p))
	}
	assert.Equal(t, []int{2, 2, 1, 1}, lens, "3 thirds fit, cut to 2, a power of two; one too large goes alone")
}
