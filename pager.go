package digelao

import (
	"context"
	"fmt"
	"iter"

	"github.com/digelao-go/digelao/internal/flex"
	"github.com/digelao-go/digelao/internal/transport"
)

// DefaultAllPageSize is the page size of the All iterators when the options' PerPage is 0. Client
// code reads 1,000 to 10,000 call records a page.
const DefaultAllPageSize = 500

// page is one page of a list as the platform answered it.
type page[T any] struct {
	items   []T
	total   int  // the number of items that match, when counted
	counted bool // the reply carried a total
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
	if err := fetchFrom(ctx, c, ep, p, codec, &reply, ep.codeless != ""); err != nil {
		return page[T]{}, err
	}
	return pageOf(&reply), nil
}

// pageAll returns every item of a paged list from page first.Page on (DefaultAllPageSize items a
// page unless first.PerPage is set; first may be nil), calling fetch page after page, as the platform's own clients
// page: pageIndex 0, 1, 2, … until the total is reached. A reply without a total is paged until a
// page comes back shorter than asked. key identifies an item, to notice a platform that ignores
// pageIndex.
//
// It never ends short silently: pages that run out before the total — the latest total a page
// gave, should a later page come without one — and a page that repeats an earlier one, end the
// sequence with an error matching ErrIncomplete. Only a short page (or an empty one) ends the
// list: a full page that reaches the total costs one request more, which tells a total that lies
// low from a true one; a platform that answers it with a page it gave already (the last, clamped,
// or the first, wrapped around) ends the list there. Any other error, and ctx ending, end it too;
// the error is yielded with a zero item.
func pageAll[T any](ctx context.Context, what string, first *ListOptions, fetch func(context.Context, *ListOptions) (page[T], error), key func(T) string) iter.Seq2[T, error] {
	var o ListOptions
	if first != nil {
		o = *first
	}
	if o.PerPage == 0 {
		o.PerPage = DefaultAllPageSize
	}
	return func(yield func(T, error) bool) {
		var zero T
		seen := o.Page * o.PerPage // what the pages before the first hold, were they full
		pages := map[string]int{}  // the identity of each page read, and its index
		total, counted := 0, false // the total the latest page that gave one gave
		for ; ; o.Page++ {
			if err := ctx.Err(); err != nil {
				yield(zero, transport.ContextErr(ctx))
				return
			}
			pg, err := fetch(ctx, &o)
			if err != nil {
				yield(zero, err)
				return
			}
			if pg.counted { // a page without one (PHP's "data":[]) does not undo an earlier count
				total, counted = pg.total, true
			}
			if len(pg.items) == 0 {
				if counted && seen < total {
					yield(zero, fmt.Errorf("digelao: %s: %w: the pages ended at %d of %d items", what, ErrIncomplete, seen, total))
				}
				return
			}
			id := fmt.Sprintf("%d|%s|%s", len(pg.items), key(pg.items[0]), key(pg.items[len(pg.items)-1]))
			if before, ok := pages[id]; ok {
				if counted && seen >= total { // the page past a full last one, answered with that one or the first again
					return
				}
				yield(zero, fmt.Errorf("digelao: %s: %w: page %d repeats page %d (pageIndex ignored?)", what, ErrIncomplete, o.Page, before))
				return
			}
			pages[id] = o.Page
			for _, item := range pg.items {
				if !yield(item, nil) {
					return
				}
			}
			seen += len(pg.items)
			// Only a short page ends the list. A full one that reaches the total is followed by
			// one request more: a total can be capped, or counted apart from the list, and lie low
			// — at a multiple of the page size too.
			if len(pg.items) < o.PerPage && (!counted || seen >= total) {
				return
			}
		}
	}
}
