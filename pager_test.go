package digelao

import (
	"context"
	"fmt"
	"testing"

	"github.com/jarcoal/httpmock"
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

// liveList is a list paged by offset, newest first, that a test changes between two pages.
type liveList struct {
	items   []int
	between func(l *liveList, page int) // runs before page is served
}

func (l *liveList) fetch(_ context.Context, lo *ListOptions) (page[int], error) {
	if l.between != nil {
		l.between(l, lo.Page)
	}
	from := min(lo.Page*lo.PerPage, len(l.items))
	to := min(from+lo.PerPage, len(l.items))
	return page[int]{items: l.items[from:to], total: len(l.items), counted: true}, nil
}

func (l *liveList) all(perPage int) ([]int, error) {
	var got []int
	for v, err := range pageAll(context.Background(), "ints", &ListOptions{PerPage: perPage}, l.fetch, func(i int) string { return fmt.Sprint(i) }) {
		if err != nil {
			return got, err
		}
		got = append(got, v)
	}
	return got, nil
}

// Issue 19 item 1. A list that shrinks while it is paged (a task deleted in the console) shifts
// the rows after the deleted one back: the first row of the next page was on the page read, and
// is never seen. The shrinking total says so: the list is incomplete, not done.
func TestPagesOfAListThatShrinksAreIncomplete(t *testing.T) {
	t.Parallel()
	l := &liveList{items: []int{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}}
	l.between = func(l *liveList, page int) {
		if page == 1 {
			l.items = append(l.items[:2:2], l.items[3:]...) // 8 goes
		}
	}
	got, err := l.all(5)
	require.ErrorIs(t, err, ErrIncomplete, "got %v and no error", got)
	assert.ErrorContains(t, err, "shrank from 10 to 9")
}

// A list that grows while it is paged (a late record inserted before the page being read) shifts
// rows forward: the rows that come again are left out, and the list is incomplete. What was
// inserted among the pages ahead is read, and still the list is incomplete: its total moved, and
// counts cannot tell an insertion alone from one that masks a removal (below).
func TestPagesOfAListThatGrows(t *testing.T) {
	t.Parallel()
	ahead := &liveList{items: []int{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}}
	ahead.between = func(l *liveList, page int) {
		if page == 1 {
			l.items = append(l.items[:7:7], append([]int{35}, l.items[7:]...)...) // among the rows ahead
		}
	}
	got, err := ahead.all(5)
	require.ErrorIs(t, err, ErrIncomplete)
	assert.ErrorContains(t, err, "the list changed while it was paged")
	assert.Equal(t, []int{10, 9, 8, 7, 6, 5, 4, 35, 3, 2, 1}, got)

	behind := &liveList{items: []int{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}}
	behind.between = func(l *liveList, page int) {
		if page == 1 {
			l.items = append([]int{11, 12}, l.items...) // before the rows read
		}
	}
	got, err = behind.all(5)
	require.ErrorIs(t, err, ErrIncomplete)
	assert.Equal(t, []int{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, got, "the rows that came again were left out")
}

// A row already read is removed and two are inserted among the rows ahead: the total grows from 10
// to 11, the pages hold 11 distinct rows and reach it — and 5, shifted back onto the page read, was
// never seen. The moved total ends the list with ErrIncomplete, not nil.
func TestPagesOfAListWhoseInsertionsMaskARemoval(t *testing.T) {
	t.Parallel()
	l := &liveList{items: []int{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}}
	l.between = func(l *liveList, page int) {
		if page == 1 {
			rest := append([]int{}, l.items[5:]...)
			l.items = append(append(l.items[:1:1], l.items[2:5]...), append(rest, 0, -1)...) // 9 goes; 0 and -1 come
		}
	}
	got, err := l.all(5)
	require.ErrorIs(t, err, ErrIncomplete, "got %v and no error", got)
	assert.NotContains(t, got, 5, "the row the removal shifted onto the page read")
}

// Every list reads PHP's empty array, an empty object and null as an empty list, end to end
// through its service (item 16): for the lists with a code, as their data; for the codeless ones
// (2.1.1, 8.1), as their list member.
func TestEveryListReadsPHPEmptiesAsEmpty(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, empty := range []string{`[]`, `{}`, `null`} {
		c, mt := newMockClient(t)
		mt.RegisterNoResponder(httpmock.NewStringResponder(200,
			`{"code":0,"total":0,"data":`+empty+`,"datas":`+empty+`}`))
		lists := map[string]func() (int, error){
			"records":   func() (int, error) { l, _, err := c.Records.List(ctx, nil); return len(l), err },
			"tasks":     func() (int, error) { l, _, err := c.Tasks.List(ctx, nil); return len(l), err },
			"customers": func() (int, error) { l, _, err := c.Customers.List(ctx, nil); return len(l), err },
			"blacklist": func() (int, error) { l, _, err := c.Blacklist.List(ctx, nil); return len(l), err },
			"accounts":  func() (int, error) { l, _, err := c.Accounts.List(ctx, nil); return len(l), err },
			"templates": func() (int, error) { l, _, err := c.Templates.List(ctx, nil); return len(l), err },
		}
		for name, list := range lists {
			n, err := list()
			require.NoError(t, err, "%s, data %s", name, empty)
			assert.Zero(t, n, "%s, data %s", name, empty)
		}
	}
}

// pages on a list whose total moves only on its last page (short, full, or the empty one past a
// full last page) ends with ErrIncomplete, never nil.
func TestPagesWhoseTotalMovesOnlyOnTheLastPage(t *testing.T) {
	t.Parallel()
	items := func(from, n int) []string {
		var s []string
		for i := range n {
			s = append(s, string(rune('a'+from+i)))
		}
		return s
	}
	for name, script := range map[string][]page[string]{
		"short last, total up":   {{items: items(0, 5), total: 8, counted: true}, {items: items(5, 3), total: 9, counted: true}, {}},
		"full last, total up":    {{items: items(0, 5), total: 10, counted: true}, {items: items(5, 5), total: 11, counted: true}, {}},
		"empty past, total up":   {{items: items(0, 5), total: 10, counted: true}, {items: items(5, 5), total: 10, counted: true}, {total: 11, counted: true}},
		"empty past, total down": {{items: items(0, 5), total: 10, counted: true}, {items: items(5, 5), total: 10, counted: true}, {total: 9, counted: true}},
		"short last, total down": {{items: items(0, 5), total: 8, counted: true}, {items: items(5, 3), total: 7, counted: true}, {}},
	} {
		var err error
		for _, e := range pages(t.Context(), "x", &ListOptions{PerPage: 5}, func(_ context.Context, lo *ListOptions) (page[string], error) {
			if lo.Page < len(script) {
				return script[lo.Page], nil
			}
			return page[string]{}, nil
		}, func(s string) string { return s }) {
			if e != nil {
				err = e
			}
		}
		assert.ErrorIs(t, err, ErrIncomplete, name)
	}
}
