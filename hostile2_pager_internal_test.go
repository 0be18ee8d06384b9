package digelao

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A platform that answers a pageIndex past the last page with the first page again (a PHP list
// that resets an out-of-range page to 1) must not make the pager loop, yielding the same items
// over and over: the page past a full last one is asked for, and it is a page seen before.
func TestPagesThatWrapAroundEndTheList(t *testing.T) {
	t.Parallel()
	items := []int{1, 2, 3, 4, 5, 6}
	for name, tc := range map[string]struct {
		total   int
		counted bool
		want    error
	}{
		"true total":        {total: 6, counted: true},
		"no total":          {want: ErrIncomplete},
		"total that is low": {total: 3, counted: true},
	} {
		t.Run(name, func(t *testing.T) {
			fetches := 0
			fetch := func(_ context.Context, lo *ListOptions) (page[int], error) {
				fetches++
				n := len(items) / lo.PerPage
				from := (lo.Page % n) * lo.PerPage // past the end: back to the first page
				return page[int]{items: items[from : from+lo.PerPage], total: tc.total, counted: tc.counted}, nil
			}
			var got []int
			var err error
			for v, e := range pageAll(context.Background(), "ints", &ListOptions{PerPage: 3}, fetch, func(i int) string { return fmt.Sprint(i) }) {
				if e != nil {
					err = e
					break
				}
				got = append(got, v)
				if len(got) > 3*len(items) {
					break
				}
			}
			assert.Equal(t, items, got, "each item once")
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
			} else {
				require.NoError(t, err)
			}
			assert.Equal(t, 3, fetches, "the two pages and the one past them")
		})
	}
}
