package digelao

import (
	"context"
	"time"

	"github.com/digelao-go/digelao/internal/transport"
)

// retryPolicy is how calls that are safe to repeat are retried.
type retryPolicy = transport.Retry

// defaultRetry retries a read twice, after about 0.2s and 0.4s (with jitter), waiting at most 10s
// for a Retry-After: a longer one, an HTTP date far ahead or a number of seconds past what a
// time.Duration holds, waits 10s.
var defaultRetry = retryPolicy{Max: 2, Base: 200 * time.Millisecond, Cap: 10 * time.Second}

// WithRetries sets how many times a call that is safe to repeat — a read or a download — is retried
// after a connection error, HTTP 429 or 5xx, with exponential backoff and jitter from base,
// honouring Retry-After and the context's deadline. Default: 2 retries from 200ms. Zero turns
// retries off. Calls that create, import, operate or delete are never retried unless the caller
// opts in per call with AllowRetry.
func WithRetries(max int, base time.Duration) Option {
	return func(s *settings) error {
		if max < 0 || base < 0 {
			return invalid("WithRetries", "max and base must not be negative")
		}
		s.retry.Max, s.retry.Base = max, base
		return nil
	}
}

type allowRetryKey struct{}

// AllowRetry returns a context under which calls that change something (create, import, operate,
// delete) are retried like reads. Use it only for a call the caller knows is safe to repeat: a
// create sent twice may create two tasks, and an import twice may call every number twice.
func AllowRetry(ctx context.Context) context.Context {
	return context.WithValue(ctx, allowRetryKey{}, true)
}

func retryAllowed(ctx context.Context) bool {
	allowed, _ := ctx.Value(allowRetryKey{}).(bool)
	return allowed
}
