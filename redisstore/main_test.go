package redisstore_test

import (
	"crypto/rand"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/redistest"
	"github.com/digelao-go/digelao/redisstore"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// newClient returns a go-redis client for the test server, closed when t ends.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// uniquePrefix keeps tests (and repeated runs of one test) from seeing each other's keys.
func uniquePrefix(t testing.TB) string { return "test:" + t.Name() + ":" + rand.Text()[:8] + ":" }

// newStore returns a Store on the shared test server under a prefix of t's own, and its client.
func newStore(t testing.TB, opts ...redisstore.Option) (*redisstore.Store, *redis.Client, string) {
	t.Helper()
	rdb := newClient(t, redistest.Addr(t))
	prefix := uniquePrefix(t)
	s, err := redisstore.New(rdb, append([]redisstore.Option{redisstore.WithPrefix(prefix)}, opts...)...)
	require.NoError(t, err)
	return s, rdb, prefix
}
