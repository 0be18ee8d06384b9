package transport

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"0":                             0,
		"7":                             7 * time.Second,
		"Wed, 25 Nov 2026 02:00:30 GMT": 30 * time.Second,
		"Wed, 25 Nov 2026 01:59:00 GMT": 0, // in the past
	} {
		got, ok := retryAfter(v, now)
		assert.True(t, ok, v)
		assert.Equal(t, want, got, v)
	}
	for _, v := range []string{"", "-1", "soon", "1.5"} {
		_, ok := retryAfter(v, now)
		assert.False(t, ok, v)
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
