package digelao

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jarcoal/httpmock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type callID struct{}

// renewPlatform accepts only its newest key, as the platform does, and counts logins and sends per
// call (the call's ID rides in its context, which the login request carries too).
type renewPlatform struct {
	mu       sync.Mutex
	current  string
	n        int
	dead     bool // logins issue a key that is refused at once
	logins   map[int]int
	sends    map[int]int
	loginsAt atomic.Int64
}

func newRenewPlatform(mt *httpmock.MockTransport) *renewPlatform {
	p := &renewPlatform{logins: map[int]int{}, sends: map[int]int{}}
	mt.RegisterResponder("POST", testBase+"/api/login", func(r *http.Request) (*http.Response, error) {
		p.loginsAt.Add(1)
		p.mu.Lock()
		defer p.mu.Unlock()
		id, _ := r.Context().Value(callID{}).(int)
		p.logins[id]++
		p.n++
		key := fmt.Sprintf("key%05d", p.n)
		if p.dead {
			p.current = "third-party"
		} else {
			p.current = key
		}
		return httpmock.NewStringResponse(200, fmt.Sprintf(`{"code":0,"data":{"user_sn":"SN","api_key":%q}}`, key)), nil
	})
	mt.RegisterResponder("POST", testBase+"/api/index", func(r *http.Request) (*http.Response, error) {
		var body struct {
			APIKey string `json:"api_key"`
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		p.mu.Lock()
		defer p.mu.Unlock()
		id, _ := r.Context().Value(callID{}).(int)
		p.sends[id]++
		if body.APIKey != p.current {
			return httpmock.NewStringResponse(200, `{"code":20005,"msg":"api_key验证失败"}`), nil
		}
		return httpmock.NewStringResponse(200, `{"code":0,"data":{"list":[],"total":0}}`), nil
	})
	return p
}

func (p *renewPlatform) thirdParty() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.current = "third-party"
}

// perCall checks that no call logged in more than maxLogins times nor sent more than 3 times.
func (p *renewPlatform) perCall(t *testing.T, maxLogins int) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, n := range p.logins {
		assert.LessOrEqual(t, n, maxLogins, "logins of call %d", id)
	}
	for id, n := range p.sends {
		assert.LessOrEqual(t, n, 3, "sends of call %d", id)
	}
}

func callCtx(id int) context.Context { return context.WithValue(context.Background(), callID{}, id) }

// 200 goroutines on each of two clients sharing a store, after a third party cancelled the keys
// twice: one login in all, every call succeeds, no call sends more than 3 times.
func TestRenewalAfterTwoCancelsLogsInOnce(t *testing.T) {
	t.Parallel()
	mt := httpmock.NewMockTransport()
	p := newRenewPlatform(mt)
	store := NewMemoryStore()
	mk := func() *Client {
		c, err := New(testBase, WithPassword("u", "p"), WithTransport(mt), WithTokenStore(store), WithLogger(slog.New(slog.DiscardHandler)))
		require.NoError(t, err)
		return c
	}
	a, b := mk(), mk()
	require.NoError(t, callIndex(callCtx(-1), a)) // A logs in: key1
	p.thirdParty()
	require.NoError(t, callIndex(callCtx(-2), b)) // B, refused key1 from the store, logs in: key2
	p.thirdParty()
	before := p.loginsAt.Load()
	var id atomic.Int64
	errs := concurrently(400, func() error {
		i := int(id.Add(1))
		c := a
		if i%2 == 0 {
			c = b
		}
		return callIndex(callCtx(i), c)
	})
	assert.Zero(t, countErrors(errs))
	assert.EqualValues(t, 1, p.loginsAt.Load()-before)
	p.perCall(t, 1)
}

// deadStore hands out a different, fresh-looking, dead key on every Get.
type deadStore struct {
	*MemoryStore
	n atomic.Int64
}

func (d *deadStore) Get(context.Context, string) (*Session, error) {
	return &Session{UserSN: "SN", APIKey: NewSecret(fmt.Sprintf("dead%d", d.n.Add(1))), ExpiresAt: time.Now().Add(time.Hour)}, nil
}

// A store whose Get hands out a different dead key every time (someone logging in without sharing
// keeps replacing them): each renewal takes the store's next key, and the call ends with the
// refusal after three sends — bounded, no login, no loop.
func TestRenewalFromAStoreOfDeadKeysIsBounded(t *testing.T) {
	t.Parallel()
	mt := httpmock.NewMockTransport()
	p := newRenewPlatform(mt)
	c, err := New(testBase, WithPassword("u", "p"), WithTransport(mt),
		WithTokenStore(&deadStore{MemoryStore: NewMemoryStore()}), WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	require.ErrorIs(t, callIndex(callCtx(1), c), ErrAPIKeyInvalid)
	p.perCall(t, 0)
	assert.Equal(t, 3, p.sends[1])
}

// A login that issues a key already dead: a warm call logs in once and gives up; no loop.
func TestRenewalWithALoginOfADeadKeyIsBounded(t *testing.T) {
	t.Parallel()
	mt := httpmock.NewMockTransport()
	p := newRenewPlatform(mt)
	c, err := New(testBase, WithPassword("u", "p"), WithTransport(mt), WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	require.NoError(t, callIndex(callCtx(0), c))
	p.mu.Lock()
	p.dead = true
	p.current = "third-party"
	p.mu.Unlock()
	require.ErrorIs(t, callIndex(callCtx(1), c), ErrAPIKeyInvalid)
	assert.Equal(t, 1, p.logins[1])
	assert.Equal(t, 2, p.sends[1])
	// With a store handing over another's dead key first: one login, three sends.
	store := NewMemoryStore()
	c2, err := New(testBase, WithPassword("u", "p"), WithTransport(mt), WithTokenStore(store))
	require.NoError(t, err)
	require.NoError(t, store.Put(context.Background(), c2.auth.key, &Session{UserSN: "SN", APIKey: NewSecret("other"), ExpiresAt: time.Now().Add(time.Hour)}))
	c2.auth.use(&Session{UserSN: "SN", APIKey: NewSecret("mine-old"), ExpiresAt: time.Now().Add(time.Hour)})
	require.ErrorIs(t, callIndex(callCtx(2), c2), ErrAPIKeyInvalid)
	assert.Equal(t, 1, p.logins[2])
	assert.Equal(t, 3, p.sends[2])
}
