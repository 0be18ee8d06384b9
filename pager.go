package digelao

import (
	"bytes"
	"context"
	"encoding/json"
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
// PHP writes an empty page as [] or {}, and a list with holes as an object: all decode.
type listPage[T any] struct {
	Total *flex.Int  `json:"total"`
	List  phpList[T] `json:"list"`
}

func (p *listPage[T]) page() page[T] {
	pg := page[T]{items: p.List}
	if p.Total != nil {
		pg.total, pg.counted = int(*p.Total), true
	}
	return pg
}

// phpList is a JSON list as PHP's json_encode writes one: an array; null, [] or {} when empty;
// or an object keyed "0", "1", … when the array has holes (its values are the items, in order).
type phpList[T any] []T

// UnmarshalJSON implements json.Unmarshaler.
func (l *phpList[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case isEmpty(b):
		*l = nil
		return nil
	case b[0] == '[':
		return json.Unmarshal(b, (*[]T)(l))
	case b[0] != '{':
		return fmt.Errorf("expected a list, got %.20s", b)
	}
	var items []T
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // {
		return err
	}
	for dec.More() {
		if _, err := dec.Token(); err != nil { // the key
			return err
		}
		var v T
		if err := dec.Decode(&v); err != nil {
			return err
		}
		items = append(items, v)
	}
	*l = items
	return nil
}

// pageAll returns every item of a paged list from page first.Page on (DefaultAllPageSize items a
// page unless first.PerPage is set), calling fetch page after page, as the platform's own clients
// page: pageIndex 0, 1, 2, … until the total is reached. A reply without a total is paged until a
// page comes back shorter than asked. key identifies an item, to notice a platform that ignores
// pageIndex.
//
// It never ends short silently: pages that run out before the total, and a page that repeats the
// one before, end the sequence with an error matching ErrIncomplete. Any other error, and ctx
// ending, end it too; the error is yielded with a zero item.
func pageAll[T any](ctx context.Context, what string, first ListOptions, fetch func(context.Context, ListOptions) (page[T], error), key func(T) string) iter.Seq2[T, error] {
	o := first
	if o.PerPage == 0 {
		o.PerPage = DefaultAllPageSize
	}
	return func(yield func(T, error) bool) {
		var zero T
		seen := o.Page * o.PerPage // what the pages before the first hold, were they full
		var last string            // the previous page's identity
		for ; ; o.Page++ {
			if err := ctx.Err(); err != nil {
				yield(zero, transport.ContextErr(ctx))
				return
			}
			pg, err := fetch(ctx, o)
			if err != nil {
				yield(zero, err)
				return
			}
			if len(pg.items) == 0 {
				if pg.counted && seen < pg.total {
					yield(zero, fmt.Errorf("digelao: %s: %w: the pages ended at %d of %d items", what, ErrIncomplete, seen, pg.total))
				}
				return
			}
			id := fmt.Sprintf("%d|%s|%s", len(pg.items), key(pg.items[0]), key(pg.items[len(pg.items)-1]))
			if id == last {
				yield(zero, fmt.Errorf("digelao: %s: %w: page %d repeats page %d (pageIndex ignored?)", what, ErrIncomplete, o.Page, o.Page-1))
				return
			}
			last = id
			for _, item := range pg.items {
				if !yield(item, nil) {
					return
				}
			}
			seen += len(pg.items)
			if pg.counted && seen >= pg.total || !pg.counted && len(pg.items) < o.PerPage {
				return
			}
		}
	}
}
