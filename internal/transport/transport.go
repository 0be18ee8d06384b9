// Package transport is the SDK's only user of resty. It sends bytes the caller already produced
// (resty never encodes a body or a query), applies the timeout, retries what the caller marks as
// safe to retry, and logs method, path, status and timing — never a query, a body or a header.
package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-resty/resty/v2"
)

// Config configures a Transport.
type Config struct {
	HTTPClient  *http.Client      // copied, never mutated; nil means a new client
	Transport   http.RoundTripper // replaces the copied client's transport when set
	Timeout     time.Duration     // per attempt, a streamed request body included; for streamed replies, until the file starts
	IdleTimeout time.Duration     // a streamed reply that sends no byte for this long fails
	UserAgent   string
	Logger      *slog.Logger
	MaxBody     int64 // largest buffered reply body
}

// Request is one HTTP request. Build produces it anew for every attempt.
type Request struct {
	Method      string
	URL         string // absolute, with the query already encoded
	Path        string // for logs and errors; never carries the query
	Body        io.Reader
	ContentType string
	Stream      bool // hand the body to the caller instead of buffering it, if IsFile says so
	// IsFile decides, for a Stream request, whether a 2xx reply is the file (handed over as
	// Response.Stream) or an error page (read like any buffered reply, under the same timeout),
	// from the reply's header and its first bytes (up to SniffLen; fewer when the reply is shorter).
	IsFile func(head []byte, h http.Header) bool
	// Secrets are removed from the text of any error of this request — before it is logged and
	// before it is returned — since a RoundTripper may quote the URL, whose query holds them.
	Secrets []string

	// Write, when set instead of Body, streams the body: it runs in a goroutine of its own and
	// writes into a pipe the request reads from, so no more than a pipe's worth is ever held in
	// memory (resty would buffer a Body whole). The pipe is closed when the attempt ends, which
	// makes a blocked Write fail; the attempt does not end before Write has returned, so the
	// caller's data is never read after Do returns. An error from Write (other than the closed
	// pipe) fails the attempt with that error, and such an attempt is not retried.
	Write func(io.Writer) error
	// ContentLength is the length of what Write produces; 0 means unknown (sent chunked).
	ContentLength int64
}

// Response is a reply. Exactly one of Body and Stream is set.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	Stream io.ReadCloser // the caller must close it
}

// Retry says how often and how patiently a request is retried. The zero value never retries.
type Retry struct {
	Max  int           // retries after the first attempt
	Base time.Duration // first backoff; doubles each retry, with full jitter
	Cap  time.Duration // longest single wait, Retry-After included
}

// ErrBodyTooLarge is returned for a buffered reply larger than Config.MaxBody.
var ErrBodyTooLarge = errors.New("reply body too large")

// SniffLen is how many bytes of a streamed reply IsFile sees.
const SniffLen = 512

// initialBuffer bounds the buffer allocated for a reply before its bytes arrive, whatever length
// the reply announces: a server announcing 64 MiB and sending nothing costs 64 KiB.
const initialBuffer = 64 << 10

// RedirectError is a 3xx reply. Redirects are never followed: the platform's API has no reason to
// redirect, and following one would resend the request — a login's password, a write — to another
// host. Host is the Location's host (its path and query, which may hold secrets, are not kept).
type RedirectError struct {
	Status int
	Host   string
}

func (e *RedirectError) Error() string {
	host := e.Host
	if host == "" {
		host = "(no Location)"
	}
	return fmt.Sprintf("HTTP %d redirect to %s refused: the SDK does not follow redirects (check the base URL)", e.Status, host)
}

const jsonType = "application/json"

// errAttemptOver closes a streamed body's pipe once its attempt has ended.
var errAttemptOver = errors.New("request ended")

// writeError is the failure of a Request's Write: the caller's data, not the connection, failed.
type writeError struct{ err error }

func (e *writeError) Error() string { return "writing request body: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// Transport sends requests through one resty client.
type Transport struct {
	rc      *resty.Client
	timeout time.Duration
	idle    time.Duration
	maxBody int64
	log     *slog.Logger
}

// New returns a Transport for cfg.
func New(cfg Config) *Transport {
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		cp := *cfg.HTTPClient
		hc = &cp
	}
	if cfg.Transport != nil {
		hc.Transport = cfg.Transport
	}
	if hc.Transport == nil {
		hc.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	// A 3xx comes back as it is, and once turns it into a *RedirectError.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	rc := resty.NewWithClient(hc).SetLogger(quiet{}).SetHeader("User-Agent", cfg.UserAgent)
	return &Transport{rc: rc, timeout: cfg.Timeout, idle: cfg.IdleTimeout, maxBody: cfg.MaxBody, log: cfg.Logger}
}

// CloseIdleConnections closes the connections kept alive for reuse.
func (t *Transport) CloseIdleConnections() { t.rc.GetClient().CloseIdleConnections() }

// Do sends the request that build produces, retrying under policy. build runs again for every
// attempt, so each attempt is freshly signed and carries its whole body.
func (t *Transport) Do(ctx context.Context, policy Retry, build func() (*Request, error)) (*Response, error) {
	for attempt := 0; ; attempt++ {
		req, err := build()
		if err != nil {
			return nil, err
		}
		resp, err := t.once(ctx, req, attempt)
		if attempt >= policy.Max || !retryable(ctx, resp, err) {
			return resp, err
		}
		wait := policy.backoff(attempt, resp)
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return resp, err // no time left for another attempt
		}
		t.log.DebugContext(ctx, "digelao retry", "method", req.Method, "path", req.Path, "attempt", attempt+1, "wait", wait)
		if err := Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s %s: %w", req.Method, req.Path, err)
		}
	}
}

// Sleep waits for d, or returns the cause of ctx's end.
func Sleep(ctx context.Context, d time.Duration) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ContextErr(ctx)
	case <-timer.C:
		return nil
	}
}

// ContextErr returns why ctx ended: ctx.Err(), joined with the cause given to its cancel function
// when there is one, so errors.Is matches both context.Canceled (or DeadlineExceeded) and the cause.
func ContextErr(ctx context.Context) error {
	err, cause := ctx.Err(), context.Cause(ctx)
	if cause == nil || errors.Is(cause, err) {
		return cause
	}
	return fmt.Errorf("%w: %w", err, cause)
}

func (t *Transport) once(ctx context.Context, req *Request, attempt int) (*Response, error) {
	start := time.Now()
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(t.timeout, func() {
		cancel(fmt.Errorf("no reply within %s: %w", t.timeout, context.DeadlineExceeded))
	})
	res, err := t.exchange(ctx, req)
	if err != nil {
		timer.Stop()
		if cause := ended(parent, ctx); cause != nil && !errors.As(err, new(*writeError)) {
			err = cause
		}
		cancel(nil)
		return nil, t.fail(ctx, req, attempt, "", err)
	}
	out := &Response{Status: res.StatusCode, Header: res.Header}
	if t.log.Enabled(ctx, slog.LevelDebug) { // checked first: building the arguments allocates
		t.log.DebugContext(ctx, "digelao request", "method", req.Method, "path", req.Path, "status", out.Status,
			"attempt", attempt, "duration", time.Since(start))
	}
	if out.Status >= 300 && out.Status < 400 {
		timer.Stop()
		_ = res.Body.Close()
		cancel(nil)
		err := &RedirectError{Status: out.Status}
		if loc, perr := res.Location(); perr == nil {
			err.Host = loc.Host
		}
		return nil, t.fail(ctx, req, attempt, "", err)
	}
	var head []byte
	if req.Stream && out.Status < 300 {
		head, err = readHead(res.Body)
		if err == nil && req.IsFile(head, res.Header) {
			timer.Stop() // the file has started: from here the idle timeout and the caller's context bound it
			out.Stream = newStream(ctx, head, res.Body, cancel, t.idle)
			return out, nil
		}
	}
	defer cancel(nil)
	defer timer.Stop()
	defer func() { _ = res.Body.Close() }()
	if err == nil {
		out.Body, err = readAll(head, res.Body, res.ContentLength, t.maxBody)
	}
	if err != nil {
		if cause := ended(parent, ctx); cause != nil {
			err = cause
		}
		return nil, t.fail(ctx, req, attempt, "reading reply: ", err)
	}
	return out, nil
}

// readHead reads the first SniffLen bytes of r, or all of it when shorter.
func readHead(r io.Reader) ([]byte, error) {
	head := make([]byte, SniffLen)
	n, err := io.ReadFull(r, head)
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	return head[:n], err
}

// ended returns why an attempt's context ctx, made from the caller's parent, ended — the caller's
// reason or the timeout — or nil while it is live.
func ended(parent, ctx context.Context) error {
	if parent.Err() != nil {
		return ContextErr(parent)
	}
	return context.Cause(ctx)
}

// fail logs and returns the failure of an attempt, stripped of the URL and of req's secrets.
func (t *Transport) fail(ctx context.Context, req *Request, attempt int, what string, err error) error {
	if errors.Is(err, ErrBodyTooLarge) {
		err = fmt.Errorf("%w: more than the %s limit (a page of many records can be): ask for smaller pages or raise it with WithMaxResponseBytes",
			err, byteSize(t.maxBody))
	}
	err = Redact(stripURL(err), req.Secrets)
	t.log.DebugContext(ctx, "digelao request failed", "method", req.Method, "path", req.Path, "attempt", attempt, "error", err)
	return fmt.Errorf("%s %s: %s%w", req.Method, req.Path, what, err)
}

// byteSize writes n in MiB or KiB when it is a whole number of them.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Redact returns err with every non-empty secret removed from its text; errors.Is and errors.As
// still see err's chain. err itself is returned when its text holds no secret.
func Redact(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if red := RedactString(msg, secrets); red != msg {
		return &redactedError{msg: red, err: err}
	}
	return err
}

// RedactString replaces every occurrence of each non-empty secret in s with [REDACTED]: the secret
// as it is and in every form a server may echo it — as json_encode writes it under any flags (each
// of "/", ", <, >, &, ' and non-ASCII characters escaped or not, independently), HTML-escaped (as
// htmlspecialchars or Go's html package writes it), percent-encoded in a query or a path, quoted
// by var_export or addslashes, and these nested (a JSON body inside a JSON string or an HTML
// page). Text made to be slow to search is redacted whole from where the search gave up. It runs
// only on the way to an error or a log line, never per request.
func RedactString(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = redactOne(s, sec)
		}
	}
	return s
}

// redactedError keeps the chain of err for errors.Is/As but not its text.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// readAll returns head followed by the rest of r, read to its end, failing with ErrBodyTooLarge
// past limit bytes in all. The buffer is sized for the announced length (size, -1 when unknown)
// only as the bytes arrive: it starts at no more than initialBuffer, and once that is full it grows
// straight to the announced length, so an honest reply is read into one buffer of its size and a
// lying length costs no more than the bytes that came. Past the announced length, or without one,
// append picks the next size.
func readAll(head []byte, r io.Reader, size, limit int64) ([]byte, error) {
	start := int64(512)
	switch {
	case size > limit: // it will fail, or the length lies: read as if unknown
		size = -1
	case size >= 0:
		start = min(size, initialBuffer)
	}
	b := make([]byte, 0, max(start, int64(len(head)))+1) // +1: reaching the end takes one more Read when size is exact
	b = append(b, head...)
	if int64(len(b)) > limit {
		return nil, ErrBodyTooLarge
	}
	for {
		n, err := r.Read(b[len(b):min(int64(cap(b)), limit+1)]) // never more than limit+1 in all
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			return nil, ErrBodyTooLarge
		}
		if errors.Is(err, io.EOF) {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			if want := size + 1; len(b) >= initialBuffer && want > int64(cap(b)) && want <= math.MaxInt {
				b = append(make([]byte, 0, want), b...)
			} else {
				b = append(b, 0)[:len(b)] // let append pick the next size
			}
		}
	}
}

// exchange sends req and returns the reply with its body unread: through resty, or — for a
// streamed body, which resty would buffer — through resty's own *http.Client, with the same
// headers.
func (t *Transport) exchange(ctx context.Context, req *Request) (*http.Response, error) {
	if req.Write == nil {
		r := t.rc.R().SetContext(ctx).SetDoNotParseResponse(true)
		if req.Body != nil {
			r.SetBody(req.Body)
			ct := []string{req.ContentType}
			r.Header["Content-Type"] = ct
			if req.ContentType == jsonType {
				// What resty would add itself, after testing the type against a regexp.
				r.Header["Accept"] = ct
			}
		}
		res, err := r.Execute(req.Method, req.URL)
		if err != nil {
			return nil, err
		}
		return res.RawResponse, nil
	}
	pr, pw := io.Pipe()
	failed := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sink := &sink{w: pw}
		err := req.Write(sink)
		if err != nil && !sink.broken {
			err = &writeError{err}
			failed <- err
		}
		_ = pw.CloseWithError(err) // nil: the reader sees EOF
	}()
	// The transport closes the body when it is done with it; closing again here also covers a
	// reply that arrives before the body is sent, so the goroutine above never blocks on the pipe.
	// Waiting for it means the caller's data is no longer read once the attempt is over.
	defer func() {
		_ = pr.CloseWithError(errAttemptOver)
		<-done
	}()
	hreq, err := http.NewRequestWithContext(ctx, req.Method, req.URL, pr)
	if err != nil {
		return nil, err
	}
	hreq.ContentLength = req.ContentLength
	if req.ContentLength <= 0 {
		hreq.ContentLength = -1 // unknown: chunked
	}
	hreq.Header.Set("User-Agent", t.rc.Header.Get("User-Agent"))
	hreq.Header.Set("Content-Type", req.ContentType)
	res, err := t.rc.GetClient().Do(hreq)
	select {
	case werr := <-failed:
		if err == nil {
			_ = res.Body.Close()
		}
		return nil, werr
	default:
	}
	return res, err
}

// stripURL drops the *url.Error wrapper, whose message repeats the full URL and so the query with
// its api_key.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// retryable reports whether a failed attempt may be repeated: a connection failure, 429 or 5xx,
// and only while the caller's context is still live. A stream handed over is never repeated.
func retryable(ctx context.Context, resp *Response, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		return !errors.Is(err, ErrBodyTooLarge) && !errors.As(err, new(*writeError))
	}
	return resp.Stream == nil && (resp.Status == http.StatusTooManyRequests || resp.Status >= 500)
}

// backoff returns the wait before retry number attempt+1: the server's Retry-After when given,
// otherwise exponential backoff with full jitter; never more than Cap.
func (p Retry) backoff(attempt int, resp *Response) time.Duration {
	if resp != nil {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return min(d, p.Cap)
		}
	}
	ceil := p.Cap
	if p.Base <= p.Cap>>attempt { // then Base<<attempt neither passes Cap nor overflows
		ceil = p.Base << attempt
	}
	if ceil <= 0 {
		return 0
	}
	return rand.N(ceil) + 1 //nolint:gosec // jitter needs no cryptographic randomness
}

// retryAfter parses a Retry-After header: delay seconds (digits only) or an HTTP date. A delay
// longer than a time.Duration holds is the longest one, which backoff caps.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if s > math.MaxInt64/uint64(time.Second) {
			return math.MaxInt64, true
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// sink is the writing end of a streamed body. It notes when the pipe itself failed — the request
// ended — so that failure is not taken for one of the caller's data.
type sink struct {
	w      io.Writer
	broken bool
}

func (s *sink) Write(p []byte) (int, error) {
	n, err := s.w.Write(p)
	s.broken = s.broken || err != nil
	return n, err
}

// ErrIdle is the failure of a streamed reply that sent nothing for the idle timeout.
var ErrIdle = errors.New("reply stalled")

// stream is a streamed reply: its first bytes, already read, then the rest of the body. A Read that
// waits longer than the idle timeout for a byte ends the request's context with ErrIdle, and
// Close ends the context.
type stream struct {
	ctx    context.Context // the request's
	head   []byte
	body   io.ReadCloser
	cancel context.CancelCauseFunc
	idle   *time.Timer // nil: no idle timeout
	wait   time.Duration
}

func newStream(ctx context.Context, head []byte, body io.ReadCloser, cancel context.CancelCauseFunc, idle time.Duration) *stream {
	s := &stream{ctx: ctx, head: head, body: body, cancel: cancel, wait: idle}
	if idle > 0 {
		s.idle = time.AfterFunc(idle, func() {
			cancel(fmt.Errorf("%w: no byte for %s", ErrIdle, idle))
		})
		s.idle.Stop()
	}
	return s
}

func (s *stream) Read(p []byte) (int, error) {
	if len(s.head) > 0 {
		n := copy(p, s.head)
		s.head = s.head[n:]
		return n, nil
	}
	if s.idle == nil {
		return s.body.Read(p)
	}
	s.idle.Reset(s.wait)
	n, err := s.body.Read(p)
	if !s.idle.Stop() && err != nil {
		// The timer fired: the read failed because it ended the context.
		return n, context.Cause(s.ctx)
	}
	return n, err
}

func (s *stream) Close() error {
	if s.idle != nil {
		s.idle.Stop()
	}
	err := s.body.Close()
	s.cancel(nil)
	return err
}

// quiet keeps resty from writing to stderr; the SDK logs through its own slog.Logger.
type quiet struct{}

func (quiet) Errorf(string, ...any) {}
func (quiet) Warnf(string, ...any)  {}
func (quiet) Debugf(string, ...any) {}
