package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/testkit"
)

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"0":                                 0,
		"7":                                 7 * time.Second,
		"Wed, 25 Nov 2026 02:00:30 GMT":     30 * time.Second,
		"Wednesday, 25-Nov-26 02:00:30 GMT": 30 * time.Second, // RFC 850
		"Wed Nov 25 02:00:30 2026":          30 * time.Second, // asctime
		"Wed, 25 Nov 2026 01:59:00 GMT":     0,                // in the past
		"Thu, 01 Jan 1970 00:00:00 GMT":     0,
		// Past what a Duration holds: the longest one, which the cap then bounds.
		"9223372036":                    9223372036 * time.Second,
		"9223372037":                    math.MaxInt64,
		"99999999999999999":             math.MaxInt64,
		"99999999999999999999999999999": math.MaxInt64,
		"Fri, 31 Dec 9999 23:59:59 GMT": math.MaxInt64,
	} {
		got, ok := retryAfter(v, now)
		assert.True(t, ok, v)
		assert.Equal(t, want, got, v)
	}
	// Not a delay: exponential backoff instead.
	for _, v := range []string{"", "-1", "-99999999999999999", "+5", "soon", "1.5", "1e3", "0x10", "5 s", "Wed, 25 Nov 2026"} {
		_, ok := retryAfter(v, now)
		assert.False(t, ok, v)
	}
}

// A Retry-After past the cap waits the cap, however far past it is; one that is not a delay
// leaves the backoff exponential.
func TestBackoffCapsEveryRetryAfter(t *testing.T) {
	t.Parallel()
	p := Retry{Max: 2, Base: 100 * time.Millisecond, Cap: 10 * time.Second}
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	for _, v := range []string{"3600", "99999999999999999", "99999999999999999999999999999", future, "Fri, 31 Dec 9999 23:59:59 GMT"} {
		h := http.Header{}
		h.Set("Retry-After", v)
		assert.Equal(t, p.Cap, p.backoff(0, &Response{Header: h}), v)
	}
	for _, v := range []string{"-5", "garbage", "1.5"} {
		h := http.Header{}
		h.Set("Retry-After", v)
		for range 20 {
			d := p.backoff(0, &Response{Header: h})
			assert.Greater(t, d, time.Duration(0), v)
			assert.LessOrEqual(t, d, p.Base, v)
		}
	}
}

func TestBackoffIsJitteredAndCapped(t *testing.T) {
	t.Parallel()
	p := Retry{Max: 10, Base: 100 * time.Millisecond, Cap: time.Second}
	for attempt := range 10 {
		ceil := min(p.Base<<attempt, p.Cap)
		for range 50 {
			d := p.backoff(attempt, nil)
			assert.Greater(t, d, time.Duration(0))
			assert.LessOrEqual(t, d, ceil)
		}
	}
	h := http.Header{}
	h.Set("Retry-After", "3600")
	assert.Equal(t, time.Second, p.backoff(0, &Response{Header: h}), "Retry-After is capped too")
	assert.Zero(t, Retry{}.backoff(0, nil))
}

func TestReadAllKeepsTheLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name            string
		body, size, max int
		tooLarge        bool
	}{
		{name: "announced length", body: 300, size: 300, max: 1000},
		{name: "unknown length", body: 3000, size: -1, max: 5000},
		{name: "empty", body: 0, size: 0, max: 10},
		{name: "exactly the limit", body: 1000, size: -1, max: 1000},
		{name: "one past the limit, unknown length", body: 1001, size: -1, max: 1000, tooLarge: true},
		{name: "past the limit, length announced", body: 5000, size: 5000, max: 1000, tooLarge: true},
		{name: "longer than announced", body: 700, size: 10, max: 600, tooLarge: true},
	} {
		r := testkit.NewZeroReader(int64(tc.body))
		b, err := readAll(nil, r, int64(tc.size), int64(tc.max))
		assert.LessOrEqual(t, r.Done.Load(), int64(tc.max+1), tc.name)
		if tc.tooLarge {
			require.ErrorIs(t, err, ErrBodyTooLarge, tc.name)
			continue
		}
		require.NoError(t, err, tc.name)
		assert.Len(t, b, tc.body, tc.name)
	}
}

// A reply past the limit says what the limit is and how to raise it, and is not retried.
func TestBodyTooLargeNamesTheLimitAndTheOption(t *testing.T) {
	t.Parallel()
	calls := 0
	rt := roundTripFunc(func(*http.Request) (*http.Response, error) {
		calls++
		return &http.Response{StatusCode: 200, Header: http.Header{}, ContentLength: -1,
			Body: io.NopCloser(testkit.NewZeroReader(3 << 20))}, nil
	})
	tr := New(Config{Transport: rt, Timeout: time.Second, MaxBody: 2 << 20, Logger: slog.New(slog.DiscardHandler)})
	_, err := tr.Do(context.Background(), Retry{Max: 2, Cap: time.Millisecond}, func() (*Request, error) {
		return &Request{Method: http.MethodPost, URL: "https://h/api/crmList", Path: "/api/crmList"}, nil
	})
	require.ErrorIs(t, err, ErrBodyTooLarge)
	assert.Equal(t, "POST /api/crmList: reading reply: reply body too large: more than the 2 MiB limit "+
		"(a page of many records can be): ask for smaller pages or raise it with WithMaxResponseBytes", err.Error())
	assert.Equal(t, 1, calls, "not retried")

	for n, want := range map[int64]string{64 << 20: "64 MiB", 1 << 20: "1 MiB", 1536 << 10: "1536 KiB", 1000: "1000 bytes", 1 << 30: "1024 MiB"} {
		assert.Equal(t, want, byteSize(n))
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// bodyOf returns n bytes that differ from their neighbours, so a copy at the wrong offset shows.
func bodyOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// allocated returns the fewest bytes the process allocated over three calls of f: other goroutines
// only add to the figure, so the least is the nearest to f's own.
func allocated(f func()) uint64 {
	least := uint64(math.MaxUint64)
	for range 3 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// cutReader hands out body and then fails with err, as a connection that drops mid-reply does.
type cutReader struct {
	body []byte
	err  error
}

func (c *cutReader) Read(p []byte) (int, error) {
	if len(c.body) == 0 {
		return 0, c.err
	}
	n := copy(p, c.body)
	c.body = c.body[n:]
	return n, nil
}

// The buffer follows the bytes that came: an honest length is read into one buffer of its size
// once the first initialBuffer bytes are in, and a length that lies costs no more than the bytes
// that came before the first initialBuffer bytes are in.
func TestReadAllGrowsToTheAnnouncedLengthOnceBytesArrive(t *testing.T) {
	const limit = 64 << 20
	for _, tc := range []struct {
		name       string
		body, size int
		atMost     int // bytes allocated by one readAll; 0: not checked
	}{
		{name: "honest length, 1.2 MB", body: 1_200_000, size: 1_200_000, atMost: 1_200_000 + initialBuffer + 16<<10},
		{name: "honest length, under the first buffer", body: 5000, size: 5000, atMost: 5000 + 1024},
		{name: "unknown length (chunked), 1.2 MB", body: 1_200_000, size: -1},
		{name: "announced far more than sent, before the first buffer is full", body: 1000, size: 50 << 20, atMost: initialBuffer + 16<<10},
		{name: "announced more than sent, past the first buffer", body: 300_000, size: 400_000, atMost: 400_000 + initialBuffer + 16<<10},
		{name: "announced less than sent", body: 300_000, size: 100_000},
		{name: "announced past the limit, sent little", body: 2000, size: limit + 1, atMost: 8 << 10},
	} {
		want := bodyOf(tc.body)
		read := func() []byte {
			b, err := readAll(nil, iotest.HalfReader(bytes.NewReader(want)), int64(tc.size), limit)
			require.NoError(t, err, tc.name)
			return b
		}
		require.Equal(t, want, read(), tc.name)
		if tc.atMost > 0 {
			got := allocated(func() { read() })
			assert.LessOrEqual(t, got, uint64(tc.atMost), tc.name)
			t.Logf("%s: %d bytes allocated for a %d-byte body", tc.name, got, tc.body)
		}
	}
}

func TestReadAllReportsABodyCutOff(t *testing.T) {
	t.Parallel()
	body := bodyOf(200_000)
	for _, size := range []int64{-1, 500_000} {
		b, err := readAll(body[:10], &cutReader{body: body[10:], err: io.ErrUnexpectedEOF}, size, 1<<20)
		require.ErrorIs(t, err, io.ErrUnexpectedEOF, "size %d", size)
		assert.Equal(t, body, b, "what came is what was read")
	}
}

// Over a connection: a reply that announces more than it sends fails, one that announces less is
// cut at its length by net/http, and a chunked reply is read whole.
func TestBufferedRepliesOverTheWire(t *testing.T) {
	t.Parallel()
	body := bodyOf(300_000)
	raw := func(header string, payload []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			conn, buf, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer func() { _ = conn.Close() }()
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nConnection: close\r\n" + header + "\r\n")
			_, _ = buf.Write(payload)
			_ = buf.Flush()
		}
	}
	get := func(h http.HandlerFunc) (*Response, error) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		tr := New(Config{Timeout: 10 * time.Second, UserAgent: "ua/1", MaxBody: 1 << 20, Logger: slog.New(slog.DiscardHandler)})
		defer tr.CloseIdleConnections()
		return tr.Do(context.Background(), Retry{}, func() (*Request, error) {
			return &Request{Method: http.MethodGet, URL: srv.URL + "/api/x", Path: "/api/x"}, nil
		})
	}

	_, err := get(raw("Content-Length: 500000\r\n", body))
	require.ErrorIs(t, err, io.ErrUnexpectedEOF, "announced more than sent")

	resp, err := get(raw("Content-Length: 100000\r\n", body))
	require.NoError(t, err)
	assert.Equal(t, body[:100_000], resp.Body, "announced less than sent: net/http stops at the length")

	resp, err = get(func(w http.ResponseWriter, _ *http.Request) { // no length, flushed in pieces: chunked
		for chunk := range slices.Chunk(body, 7000) {
			_, _ = w.Write(chunk)
			http.NewResponseController(w).Flush() //nolint:errcheck // a test server
		}
	})
	require.NoError(t, err)
	assert.Equal(t, body, resp.Body, "chunked")
}

func TestBackoffNeverOverflows(t *testing.T) {
	t.Parallel()
	p := Retry{Max: 100, Base: time.Second, Cap: 10 * time.Second}
	for attempt := range 100 {
		d := p.backoff(attempt, nil)
		assert.Greater(t, d, time.Duration(0), "attempt %d", attempt)
		assert.LessOrEqual(t, d, p.Cap, "attempt %d", attempt)
	}
}

// leakyRoundTripper fails with an error that quotes the whole URL, as some wrappers do.
type leakyRoundTripper struct{ cause error }

func (l leakyRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	return nil, fmt.Errorf("upstream refused %s: %w", r.URL, l.cause)
}

func TestErrorsAreRedactedBeforeTheyAreLogged(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	cause := errors.New("refused")
	tr := New(Config{Transport: leakyRoundTripper{cause}, Timeout: time.Second, UserAgent: "ua/1", MaxBody: 1 << 20,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	_, err := tr.Do(context.Background(), Retry{}, func() (*Request, error) {
		return &Request{Method: http.MethodGet, URL: "https://h/api/x?api_key=K3Y-s3cret&url=5ig5ig5i", Path: "/api/x",
			Secrets: []string{"K3Y-s3cret", "5ig5ig5i"}}, nil
	})
	require.ErrorIs(t, err, cause, "the chain survives the redaction")
	require.Contains(t, logs.String(), "upstream refused")
	for _, s := range []string{"K3Y-s3cret", "5ig5ig5i"} {
		assert.NotContains(t, err.Error(), s)
		assert.NotContains(t, logs.String(), s)
	}
}

// A secret is also found in the forms a request carries it: JSON-escaped in a body and
// percent-encoded in a query.
func TestRedactStringFindsEncodedSecrets(t *testing.T) {
	secret := "p@ss/词 1"
	for _, text := range []string{
		`body {"password":"p@ss\/\u8bcd 1"}`,
		"query password=p%40ss%2F%E8%AF%8D+1",
		"path /p@ss%2F%E8%AF%8D%201",
		"plain p@ss/词 1",
	} {
		got := RedactString(text, []string{secret})
		assert.Contains(t, got, "[REDACTED]", text)
		assert.NotContains(t, got, "p@ss", text)
		assert.NotContains(t, got, "p%40ss", text)
	}
	assert.Equal(t, "nothing here", RedactString("nothing here", []string{secret, ""}))
}

// An error page echoes a request HTML-escaped — the body's JSON, or a form's value — as Go's
// html.EscapeString or PHP's htmlspecialchars writes it.
func TestRedactStringFindsHTMLEscapedSecrets(t *testing.T) {
	secret := `a&b<c>d"e'f/g`
	for _, text := range []string{
		`<pre>{&#34;password&#34;:&#34;a&amp;b&lt;c&gt;d\&#34;e&#39;f\/g&#34;}</pre>`,
		`<pre>{&quot;password&quot;:&quot;a&amp;b&lt;c&gt;d\&quot;e&#039;f\/g&quot;}</pre>`,
		`<td>a&amp;b&lt;c&gt;d&quot;e&#039;f/g</td>`,
		`<td>a&amp;b&lt;c&gt;d&#34;e&#39;f/g</td>`,
	} {
		got := RedactString(text, []string{secret})
		assert.Contains(t, got, "[REDACTED]", text)
		assert.NotContains(t, got, "a&amp;b", text)
	}
}
