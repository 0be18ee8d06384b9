package digelao

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// flaky answers with the given faults in turn, then succeeds, recording every body it received.
type flaky struct {
	mu     sync.Mutex
	faults []func() (*http.Response, error)
	bodies []string
}

func (f *flaky) respond(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b []byte
	if r.Body != nil {
		b, _ = io.ReadAll(r.Body)
	}
	f.bodies = append(f.bodies, string(b)+r.URL.RawQuery)
	if len(f.faults) > 0 {
		fault := f.faults[0]
		f.faults = f.faults[1:]
		return fault()
	}
	return httpmock.NewStringResponse(200, `{"code":0,"data":{}}`), nil
}

func status(code int, header ...string) func() (*http.Response, error) {
	return func() (*http.Response, error) {
		r := httpmock.NewStringResponse(code, "<html>busy</html>")
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		return r, nil
	}
}

func connReset() (*http.Response, error) { return nil, errors.New("connection reset by peer") }

func newFlakyClient(t *testing.T, method string, faults ...func() (*http.Response, error)) (*Client, *flaky) {
	t.Helper()
	c, mt := newMockClient(t, WithRetries(2, time.Millisecond))
	f := &flaky{faults: faults}
	mt.RegisterResponder(method, testBase+"/api/x", f.respond)
	return c, f
}

func TestReadsAreRetriedOn5xx429AndConnectionErrors(t *testing.T) {
	t.Parallel()
	c, f := newFlakyClient(t, "GET", status(503), connReset)
	p := NewParams().Set("recordfile", "a.wav")
	require.NoError(t, c.Do(AllowRetry(context.Background()), "GET", "/api/x", p, nil))
	require.Len(t, f.bodies, 3)
	assert.Equal(t, f.bodies[0], f.bodies[2], "every attempt carries the whole signed request")

	c, f = newFlakyClient(t, "GET", status(429), status(502), status(500))
	err := c.Do(AllowRetry(context.Background()), "GET", "/api/x", p, nil)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 500, apiErr.HTTPStatus)
	assert.Len(t, f.bodies, 3, "two retries, then the last error")
}

func TestWritesAreNotRetriedUnlessAllowed(t *testing.T) {
	t.Parallel()
	c, f := newFlakyClient(t, "POST", status(503))
	p := NewParams().Set("source", "任务")
	require.Error(t, c.Do(context.Background(), "POST", "/api/x", p, nil))
	assert.Len(t, f.bodies, 1)

	c, f = newFlakyClient(t, "POST", connReset)
	require.Error(t, c.Do(context.Background(), "POST", "/api/x", p, nil))
	assert.Len(t, f.bodies, 1, "a connection error after sending may have created something")

	c, f = newFlakyClient(t, "POST", status(503), connReset)
	require.NoError(t, c.Do(AllowRetry(context.Background()), "POST", "/api/x", p, nil))
	require.Len(t, f.bodies, 3)
	assert.Equal(t, f.bodies[0], f.bodies[2])
}

// Do cannot know whether an endpoint writes — the platform has GETs that do (6.7.1, 6.7.2), under
// any spelling of their path — so it retries nothing unless the caller allows it.
func TestDoRetriesOnlyWhenAllowed(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/api/x", "/api/addCustomerJson", "/api/addPublicCustomerJson/", "/API/addCustomerJson", "//api/addCustomerJson"} {
		c, mt := newMockClient(t, WithRetries(2, time.Millisecond))
		mt.RegisterResponder("GET", testBase+path, httpmock.NewStringResponder(503, "busy"))
		require.Error(t, c.Do(context.Background(), "GET", path, NewParams().Set("add_json", "{}"), nil))
		assert.Equal(t, 1, mt.GetTotalCallCount(), path)
		require.Error(t, c.Do(AllowRetry(context.Background()), "GET", path, NewParams().Set("add_json", "{}"), nil))
		assert.Equal(t, 4, mt.GetTotalCallCount(), "%s: retried when allowed", path)
	}
}

func TestPlatformErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithRetries(2, time.Millisecond))
	mt.RegisterResponder("GET", testBase+"/api/x", httpmock.NewStringResponder(200, `{"code":10001,"msg":"url验证失败"}`))
	require.ErrorIs(t, c.Do(AllowRetry(context.Background()), "GET", "/api/x", NewParams().Set("a", "b"), nil), ErrSignature)
	assert.Equal(t, 1, mt.GetTotalCallCount())
}

func TestRetryAfterIsHonouredWithinTheDeadline(t *testing.T) {
	t.Parallel()
	// A Retry-After longer than the time left: give up at once with the last reply.
	c, f := newFlakyClient(t, "GET", status(429, "Retry-After", "30"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	var apiErr *APIError
	require.ErrorAs(t, c.Do(AllowRetry(ctx), "GET", "/api/x", NewParams().Set("a", "b"), nil), &apiErr)
	assert.Equal(t, 429, apiErr.HTTPStatus)
	assert.Len(t, f.bodies, 1)
	assert.Less(t, time.Since(start), 900*time.Millisecond, "did not sleep into the deadline")

	// A Retry-After of zero seconds is followed.
	c, f = newFlakyClient(t, "GET", status(429, "Retry-After", "0"))
	require.NoError(t, c.Do(AllowRetry(context.Background()), "GET", "/api/x", NewParams().Set("a", "b"), nil))
	assert.Len(t, f.bodies, 2)
}

// A Retry-After too large for a time.Duration waits the cap (10s), not nothing: with a second
// left, the client gives up after the first try instead of sending all three at once.
func TestHugeRetryAfterWaitsTheCap(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"99999999999999999", "99999999999999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"} {
		c, f := newFlakyClient(t, "GET", status(503, "Retry-After", v), status(503, "Retry-After", v))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		var apiErr *APIError
		require.ErrorAs(t, c.Do(AllowRetry(ctx), "GET", "/api/x", NewParams().Set("a", "b"), nil), &apiErr, v)
		cancel()
		assert.Equal(t, 503, apiErr.HTTPStatus, v)
		assert.Len(t, f.bodies, 1, "Retry-After: %s", v)
	}
}

func TestCancelledContextStopsRetrying(t *testing.T) {
	t.Parallel()
	c, mt := newMockClient(t, WithRetries(5, time.Hour))
	mt.RegisterResponder("GET", testBase+"/api/x", httpmock.NewStringResponder(503, "busy"))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	err := c.Do(AllowRetry(ctx), "GET", "/api/x", NewParams().Set("a", "b"), nil)
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 1, mt.GetTotalCallCount())
}

func TestRetriedCallIsResignedAfterRelogin(t *testing.T) {
	t.Parallel()
	// A read that fails with a 5xx and then meets a replaced key: the retry after the re-login
	// carries the new key and a new signature.
	c, f, mt := newLoginClient(t, WithRetries(2, time.Millisecond))
	ctx := context.Background()
	require.NoError(t, callIndex(ctx, c))
	f.relogin()
	var bodies []string
	var mu sync.Mutex
	mt.RegisterResponder("GET", testBase+"/api/x", func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		defer mu.Unlock()
		bodies = append(bodies, r.URL.RawQuery)
		if len(bodies) == 1 {
			return httpmock.NewStringResponse(200, `{"code":20005}`), nil
		}
		return httpmock.NewStringResponse(200, `{"code":0}`), nil
	})
	require.NoError(t, c.Do(AllowRetry(ctx), "GET", "/api/x", NewParams().Set("a", "b"), nil))
	require.Len(t, bodies, 2)
	assert.NotEqual(t, bodies[0], bodies[1])
	assert.Contains(t, bodies[1], "api_key=key00002")
}

// onRetry is a slog handler that runs fn when the transport logs that it will retry.
type onRetry struct {
	slog.Handler
	fn func()
}

func (h onRetry) Enabled(context.Context, slog.Level) bool { return true }
func (h onRetry) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "digelao retry" {
		h.fn()
	}
	return nil
}

func TestCancelCauseKeepsTheContextsError(t *testing.T) {
	t.Parallel()
	cause := errors.New("shutting down")
	for name, during := range map[string]bool{"during an attempt": true, "between attempts": false} {
		ctx, cancel := context.WithCancelCause(context.Background())
		c, mt := newMockClient(t, WithRetries(5, time.Hour), WithLogger(slog.New(onRetry{slog.DiscardHandler, func() { cancel(cause) }})))
		mt.RegisterResponder("GET", testBase+"/api/x", func(r *http.Request) (*http.Response, error) {
			if during {
				cancel(cause)
				<-r.Context().Done()
				return nil, r.Context().Err()
			}
			return httpmock.NewStringResponse(503, "busy"), nil
		})
		err := c.Do(AllowRetry(ctx), "GET", "/api/x", NewParams().Set("a", "b"), nil)
		require.ErrorIs(t, err, context.Canceled, name)
		require.ErrorIs(t, err, cause, name)
		assert.Equal(t, "digelao: GET /api/x: context canceled: shutting down", err.Error(), name)
		assert.Equal(t, 1, mt.GetTotalCallCount(), name)
	}
}
