package digelao

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/digelao-go/digelao/internal/flex"
	"github.com/digelao-go/digelao/internal/transport"
)

// platformTime formats t as the platform writes times: "Y-m-d H:i:s" in China time.
func platformTime(t time.Time) string { return t.In(flex.China).Format(time.DateTime) }

// fetchWith calls ep and decodes the reply's data into out with codec: from the reply's data, or,
// for an endpoint whose reply carries its result beside the code, from the whole reply (body).
func fetchWith[T any](ctx context.Context, c *Client, ep endpoint, p *Params, codec *flex.Codec[T], out *T) error {
	_, err := fetchFrom(ctx, c, ep, p, codec, out, false)
	return err
}

// fetchBodyWith is fetchWith for the replies that carry their results beside the code (or
// without one) rather than in data.
func fetchBodyWith[T any](ctx context.Context, c *Client, ep endpoint, p *Params, codec *flex.Codec[T], out *T) error {
	_, err := fetchFrom(ctx, c, ep, p, codec, out, true)
	return err
}

// fetchFrom is fetchWith (body false) and fetchBodyWith (body true); it returns the reply's header.
func fetchFrom[T any](ctx context.Context, c *Client, ep endpoint, p *Params, codec *flex.Codec[T], out *T, body bool) (http.Header, error) {
	r, err := c.call(ctx, ep, p)
	if err != nil {
		return nil, err
	}
	b := r.data
	if body {
		b = r.body
	}
	if isEmpty(b) {
		return r.header, nil
	}
	if err := codec.DecodeOwned(b, out, nil); err != nil { // the reply is out's: its Raw fields share it
		return nil, c.decodeErr(ep, err)
	}
	return r.header, nil
}

// fetchList calls ep and decodes the reply's data, a list of T, with codec: null items are dropped,
// and PHP's array with holes (an object keyed by index) is read as a list.
func fetchList[T any](ctx context.Context, c *Client, ep endpoint, p *Params, codec *flex.Codec[T]) ([]*T, error) {
	r, err := c.call(ctx, ep, p)
	if err != nil {
		return nil, err
	}
	list, err := decodeList(codec, r.data)
	if err != nil {
		return nil, c.decodeErr(ep, err)
	}
	return list, nil
}

// decodeList decodes data, a list of T, with codec; absent data is no list.
func decodeList[T any](codec *flex.Codec[T], data []byte) ([]*T, error) {
	var list []*T
	if isEmpty(data) {
		return nil, nil
	}
	if err := codec.DecodeList(data, &list); err != nil {
		return nil, err
	}
	return list, nil
}

// fetch calls ep and decodes the reply's data into out (when non-nil).
func (c *Client) fetch(ctx context.Context, ep endpoint, p *Params, out any) error {
	r, err := c.call(ctx, ep, p)
	if err != nil {
		return err
	}
	return c.decodeData(ep, r, out)
}

// decodeErr reports a reply that passed the envelope check but does not have the expected shape.
// Its text may quote the reply, so every api_key the client has seen is removed from it.
func (c *Client) decodeErr(ep endpoint, err error) error {
	return &APIError{HTTPStatus: http.StatusOK, Method: ep.method, Path: ep.path,
		Msg: redact("cannot decode data: "+err.Error(), c.auth.seenKeys()...)}
}

// isEmpty reports whether a JSON value is absent, null, or an empty [] or {}: PHP's json_encode
// writes an empty array as [] whether a list or an object was meant.
func isEmpty(b []byte) bool {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0, string(b) == "null":
		return true
	case len(b) >= 2 && (b[0] == '[' && b[len(b)-1] == ']' || b[0] == '{' && b[len(b)-1] == '}'):
		return len(bytes.TrimSpace(b[1:len(b)-1])) == 0
	}
	return false
}

// required checks that each of the name, value pairs has a value other than blanks.
func required(pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			return invalid(pairs[i], "is required")
		}
	}
	return nil
}

// checkPeriod checks that a time range, either end of which may be zero (open), does not end
// before it starts; toField names the end.
func checkPeriod(toField string, from, to time.Time) error {
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return invalid(toField, "%s is before the start of the range, %s", platformTime(to), platformTime(from))
	}
	return nil
}

// setText sets key to v when v is not empty.
func setText(p *Params, key, v string) {
	if v != "" {
		p.Set(key, v)
	}
}

// setTime sets key to t in the platform's format when t is not zero.
func setTime(p *Params, key string, t time.Time) {
	if !t.IsZero() {
		p.Set(key, platformTime(t))
	}
}

// download calls a file endpoint and copies the file into w. The transport retries only before it
// hands over the body, so bytes reach w at most once.
func (c *Client) download(ctx context.Context, ep endpoint, p *Params, w io.Writer) (int64, error) {
	if w == nil {
		return 0, invalid("w", "nil io.Writer")
	}
	r, err := c.call(ctx, ep, p)
	if err != nil {
		return 0, err
	}
	defer func() { _ = r.stream.Close() }() // read-only: a close error changes nothing
	n, err := io.Copy(w, r.stream)
	if err != nil {
		if ctx.Err() != nil {
			err = transport.ContextErr(ctx)
		}
		return n, fmt.Errorf("digelao: %s %s: download stopped after %d bytes: %w", ep.method, ep.path, n, err)
	}
	return n, nil
}
