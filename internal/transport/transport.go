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
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-resty/resty/v2"
)

// Config configures a Transport.
type Config struct {
	HTTPClient *http.Client      // copied, never mutated; nil means a new client
	Transport  http.RoundTripper // replaces the copied client's transport when set
	Timeout    time.Duration     // per attempt; for streams, until the response headers arrive
	UserAgent  string
	Logger     *slog.Logger
	MaxBody    int64 // largest buffered reply body
}

// Request is one HTTP request. Build produces it anew for every attempt.
type Request struct {
	Method      string
	URL         string // absolute, with the query already encoded
	Path        string // for logs and errors; never carries the query
	Body        io.Reader
	ContentType string
	Stream      bool // hand the body to the caller instead of buffering it
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

// Transport sends requests through one resty client.
type Transport struct {
	rc      *resty.Client
	timeout time.Duration
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
	rc := resty.NewWithClient(hc).SetLogger(quiet{}).SetHeader("User-Agent", cfg.UserAgent)
	return &Transport{rc: rc, timeout: cfg.Timeout, maxBody: cfg.MaxBody, log: cfg.Logger}
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
		if resp != nil && resp.Stream != nil {
			_ = resp.Stream.Close() // the reply being retried is discarded
		}
		t.log.DebugContext(ctx, "digelao retry", "method", req.Method, "path", req.Path, "attempt", attempt+1, "wait", wait)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s %s: %w", req.Method, req.Path, context.Cause(ctx))
		case <-time.After(wait):
		}
	}
}

func (t *Transport) once(ctx context.Context, req *Request, attempt int) (*Response, error) {
	start := time.Now()
	ctx, cancel := context.WithCancelCause(ctx)
	timer := time.AfterFunc(t.timeout, func() {
		cancel(fmt.Errorf("no reply within %s: %w", t.timeout, context.DeadlineExceeded))
	})
	r := t.rc.R().SetContext(ctx).SetDoNotParseResponse(true)
	if req.Body != nil {
		r.SetBody(req.Body).SetHeader("Content-Type", req.ContentType)
	}
	res, err := r.Execute(req.Method, req.URL)
	if err != nil {
		timer.Stop()
		if cause := context.Cause(ctx); cause != nil {
			err = cause
		}
		cancel(nil)
		err = stripURL(err)
		t.log.DebugContext(ctx, "digelao request failed", "method", req.Method, "path", req.Path, "attempt", attempt, "error", err)
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.Path, err)
	}
	out := &Response{Status: res.StatusCode(), Header: res.Header()}
	t.log.DebugContext(ctx, "digelao request", "method", req.Method, "path", req.Path, "status", out.Status,
		"attempt", attempt, "duration", time.Since(start))
	if req.Stream && out.Status < 300 {
		timer.Stop() // headers are in: the caller's context bounds the rest of the stream
		out.Stream = &stream{ReadCloser: res.RawBody(), cancel: cancel}
		return out, nil
	}
	defer cancel(nil)
	defer timer.Stop()
	defer func() { _ = res.RawBody().Close() }()
	out.Body, err = io.ReadAll(io.LimitReader(res.RawBody(), t.maxBody+1))
	if err == nil && int64(len(out.Body)) > t.maxBody {
		err = ErrBodyTooLarge
	}
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			err = cause
		}
		return nil, fmt.Errorf("%s %s: reading reply: %w", req.Method, req.Path, stripURL(err))
	}
	return out, nil
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
// and only while the caller's context is still live.
func retryable(ctx context.Context, resp *Response, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		return !errors.Is(err, ErrBodyTooLarge)
	}
	return resp.Status == http.StatusTooManyRequests || resp.Status >= 500
}

// backoff returns the wait before retry number attempt+1: the server's Retry-After when given,
// otherwise exponential backoff with full jitter; never more than Cap.
func (p Retry) backoff(attempt int, resp *Response) time.Duration {
	if resp != nil {
		if d, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return min(d, p.Cap)
		}
	}
	ceil := min(p.Base<<attempt, p.Cap)
	if ceil <= 0 {
		return 0
	}
	return rand.N(ceil) + 1 //nolint:gosec // jitter needs no cryptographic randomness
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// stream ends the request's context when the caller closes the body.
type stream struct {
	io.ReadCloser
	cancel context.CancelCauseFunc
}

func (s *stream) Close() error {
	err := s.ReadCloser.Close()
	s.cancel(nil)
	return err
}

// quiet keeps resty from writing to stderr; the SDK logs through its own slog.Logger.
type quiet struct{}

func (quiet) Errorf(string, ...any) {}
func (quiet) Warnf(string, ...any)  {}
func (quiet) Debugf(string, ...any) {}
