package digelao

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"time"

	"github.com/digelao-go/digelao/internal/flex"
	"github.com/digelao-go/digelao/internal/transport"
)

// DefaultAllPageSize is the page size of the All iterators when the options' PerPage is 0. Client
// code reads 1,000 to 10,000 call records a page.
const DefaultAllPageSize = 500

// ListOptions selects a page of a list. The platform counts pages from 0 (pageIndex) [inferred:
// the documentation calls it 起始条索引; clients and the fake treat it as a page number].
type ListOptions struct {
	Page    int // 0-based page number (pageIndex)
	PerPage int // items per page (pageSize); 0 leaves the platform's default (5, or 10 for 6.1)
}

// set appends pageIndex and, when set, pageSize to p.
func (o *ListOptions) set(p *Params) error {
	if o == nil {
		o = &ListOptions{}
	}
	if o.Page < 0 {
		return invalid("Page", "must not be negative, got %d", o.Page)
	}
	if o.PerPage < 0 {
		return invalid("PerPage", "must not be negative (0: the platform's default), got %d", o.PerPage)
	}
	p.Set("pageIndex", o.Page)
	if o.PerPage > 0 {
		p.Set("pageSize", o.PerPage)
	}
	return nil
}

// page is one page of a list as the platform answered it.
type page[T any] struct {
	items   []T
	total   int       // the number of items that match, when counted
	counted bool      // the reply carried a total
	date    time.Time // the reply's Date: the platform's clock; zero when it had none
}

// listPage is the data of the list endpoints that answer {"total":…,"list":[…]} (5.1, 5.4, 6.1).
type listPage[T any] struct {
	Total *int `json:"total"`
	List  []T  `json:"list"`
}

func (p *listPage[T]) page() page[T] { return newPage(p.List, p.Total) }

// newPage returns the page of items, counted when the reply had a total.
func newPage[T any](items []T, total *int) page[T] {
	if total == nil {
		return page[T]{items: items}
	}
	return page[T]{items: items, total: *total, counted: true}
}

// fetchPage calls the list endpoint ep, decodes its reply R with codec — from the reply's data, or,
// for an endpoint whose documented reply has no code, from the whole reply — and returns the page
// in it.
func fetchPage[T, R any](ctx context.Context, c *Client, ep endpoint, p *Params, codec *flex.Codec[R], pageOf func(*R) page[T]) (page[T], error) {
	var reply R
	h, err := fetchFrom(ctx, c, ep, p, codec, &reply, ep.codeless != "")
	if err != nil {
		return page[T]{}, err
	}
	pg := pageOf(&reply)
	pg.date, _ = http.ParseTime(h.Get("Date"))
	return pg, nil
}

// pageAll returns every item of a paged list, page after page; see pages.
func pageAll[T any](ctx context.Context, what string, first *ListOptions, fetch func(context.Context, *ListOptions) (page[T], error), key func(T) string) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		for pg, err := range pages(ctx, what, first, fetch, key) {
			if err != nil {
				yield(zero, err)
				return
			}
			for _, item := range pg.items {
				if !yield(item, nil) {
					return
				}
			}
		}
	}
}

// pages returns the pages of a list from page first.Page on (DefaultAllPageSize items a page
// unless first.PerPage is set; first may be nil), calling fetch page after page, as the platform's
// own clients page: pageIndex 0, 1, 2, … until the total is reached. A reply without a total is
// paged until a page comes back shorter than asked. key identifies an item, to notice a platform
// that ignores pageIndex and a list that changes while it is paged.
//
// It never ends short silently. Paging a live list by offset skips items when items before them
// disappear, and repeats items when items are inserted before them: a total that shrinks from one
// page to the next ends the sequence with an error matching ErrIncomplete; items of the page
// before that come again (the list grew) are left out of the page, and a list that changed so — or
// whose total moved — ends with ErrIncomplete once its pages are read, for an insertion may have
// masked a removal. A removal before the offset and an insertion after it, between the same two
// pages, leave the total as it was and repeat nothing: no offset paging can see them, and the item
// the removal shifts back onto the page read is skipped in silence (RecordSync sweeps each hour
// again for this). Pages that run out before the total — the latest total a page gave, should a
// later page come without one — and a page that repeats an earlier one, end it with ErrIncomplete
// too. Only a short page (or an empty one) ends the list: a full page that reaches the total costs
// one request more, which tells a total that lies low from a true one; a platform that answers it
// with a page it gave already (the last, clamped, or the first, wrapped around) ends the list there.
// Any other error, and ctx ending, end it too.
func pages[T any](ctx context.Context, what string, first *ListOptions, fetch func(context.Context, *ListOptions) (page[T], error), key func(T) string) iter.Seq2[page[T], error] {
	var o ListOptions
	if first != nil {
		o = *first
	}
	if o.PerPage == 0 {
		o.PerPage = DefaultAllPageSize
	}
	return func(yield func(page[T], error) bool) {
		fail := func(format string, args ...any) {
			yield(page[T]{}, fmt.Errorf("digelao: %s: %w: "+format, append([]any{what, ErrIncomplete}, args...)...))
		}
		seen := o.Page * o.PerPage // what the pages before the first hold, were they full
		pages := map[string]int{}  // the identity of each page read, and its index
		total, counted := 0, false // the total the latest page that gave one gave
		var last map[string]bool   // the keys of the page before
		// moved: the list changed while it was paged — a total differs from an earlier page's, or
		// items of the page before came again. A removal before the offset may then have been
		// masked by an insertion: the counts add up, and an item was skipped.
		moved := false
		end := func() {
			if moved {
				fail("the list changed while it was paged (items came again, or the total moved): " +
					"a removal before the offset may have skipped an item; read it again (the items read will come again)")
			}
		}
		for ; ; o.Page++ {
			if err := ctx.Err(); err != nil {
				yield(page[T]{}, transport.ContextErr(ctx))
				return
			}
			pg, err := fetch(ctx, &o)
			if err != nil {
				yield(page[T]{}, err)
				return
			}
			if pg.counted { // a page without one (PHP's "data":[]) does not undo an earlier count
				if counted && pg.total < total {
					fail("the list shrank from %d to %d items while it was paged: items after the ones removed were skipped", total, pg.total)
					return
				}
				moved = moved || counted && pg.total != total
				total, counted = pg.total, true
			}
			if len(pg.items) == 0 {
				if counted && seen < total {
					fail("the pages ended at %d of %d items", seen, total)
				} else {
					end()
				}
				return
			}
			id := fmt.Sprintf("%d|%s|%s", len(pg.items), key(pg.items[0]), key(pg.items[len(pg.items)-1]))
			if before, ok := pages[id]; ok {
				if counted && seen >= total { // the page past a full last one, answered with that one or the first again
					end()
					return
				}
				fail("page %d repeats page %d (pageIndex ignored?)", o.Page, before)
				return
			}
			pages[id] = o.Page
			full := len(pg.items)
			keys := make(map[string]bool, full)
			fresh := pg.items[:0:0]
			for _, item := range pg.items {
				k := key(item)
				keys[k] = true
				if !last[k] {
					fresh = append(fresh, item)
				}
			}
			moved = moved || len(fresh) < full
			last, pg.items = keys, fresh
			if len(fresh) > 0 && !yield(pg, nil) {
				return
			}
			seen += len(fresh)
			// Only a short page ends the list. A full one that reaches the total is followed by
			// one request more: a total can be capped, or counted apart from the list, and lie low
			// — at a multiple of the page size too.
			if full < o.PerPage && (!counted || seen >= total) {
				end()
				return
			}
		}
	}
}
