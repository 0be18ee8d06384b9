package digelao

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A page without a total (PHP's "data":[] for an empty result, a busy platform's empty list) after
// pages that gave one is not the end of the list: the earlier total still says how many there are.
func TestPagesThatDropTheirTotalAreIncomplete(t *testing.T) {
	t.Parallel()
	total := 5
	for name, later := range map[string]page[int]{
		"empty page without a total": {},
		"short page without a total": {items: []int{3}},
	} {
		t.Run(name, func(t *testing.T) {
			fetch := func(_ context.Context, lo *ListOptions) (page[int], error) {
				if lo.Page == 0 {
					return page[int]{items: []int{1, 2}, total: total, counted: true}, nil
				}
				return later, nil
			}
			var got []int
			var err error
			for v, e := range pageAll(context.Background(), "ints", &ListOptions{PerPage: 2}, fetch, func(i int) string { return fmt.Sprint(i) }) {
				if e != nil {
					err = e
					break
				}
				got = append(got, v)
			}
			require.ErrorIs(t, err, ErrIncomplete, "got %v of %d and no error", got, total)
		})
	}
}

// A total that lies low — the items on the pages already outnumber it, and the last page was full
// — does not end the list: the pages go on until one is short.
func TestPagesBeyondALowTotalAreRead(t *testing.T) {
	t.Parallel()
	items := []int{1, 2, 3, 4, 5, 6, 7}
	fetch := func(_ context.Context, lo *ListOptions) (page[int], error) {
		from := min(lo.Page*lo.PerPage, len(items))
		to := min(from+lo.PerPage, len(items))
		return page[int]{items: items[from:to], total: 5, counted: true}, nil // capped, or counted wrong
	}
	var got []int
	for v, err := range pageAll(context.Background(), "ints", &ListOptions{PerPage: 3}, fetch, func(i int) string { return fmt.Sprint(i) }) {
		require.NoError(t, err)
		got = append(got, v)
	}
	assert.Equal(t, items, got)
}

// A total capped at a multiple of the page size (10,000 rows with pages of 500) cannot be told
// from a true one without asking for one page more.
func TestPagesBeyondACappedTotalAreRead(t *testing.T) {
	t.Parallel()
	items := []int{1, 2, 3, 4, 5, 6, 7}
	fetch := func(_ context.Context, lo *ListOptions) (page[int], error) {
		from := min(lo.Page*lo.PerPage, len(items))
		to := min(from+lo.PerPage, len(items))
		return page[int]{items: items[from:to], total: 6, counted: true}, nil
	}
	var got []int
	for v, err := range pageAll(context.Background(), "ints", &ListOptions{PerPage: 3}, fetch, func(i int) string { return fmt.Sprint(i) }) {
		require.NoError(t, err)
		got = append(got, v)
	}
	assert.Equal(t, items, got)
}

// The request past a full last page that reaches the total is answered, by a platform that clamps
// pageIndex, with the last page again: that ends the list, with every item once and no error.
func TestPagesEndWhereAClampedPageRepeatsTheLast(t *testing.T) {
	t.Parallel()
	items := []int{1, 2, 3, 4, 5, 6}
	var requests int
	fetch := func(_ context.Context, lo *ListOptions) (page[int], error) {
		requests++
		from := min(lo.Page, 1) * lo.PerPage // pages past the last answered with the last
		return page[int]{items: items[from : from+lo.PerPage], total: len(items), counted: true}, nil
	}
	var got []int
	for v, err := range pageAll(context.Background(), "ints", &ListOptions{PerPage: 3}, fetch, func(i int) string { return fmt.Sprint(i) }) {
		require.NoError(t, err)
		got = append(got, v)
	}
	assert.Equal(t, items, got)
	assert.Equal(t, 3, requests, "two pages and the one that tells the total is true")
}

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
