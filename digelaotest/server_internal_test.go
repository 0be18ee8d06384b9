package digelaotest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The fake's HTTP server bounds every phase of a connection, as a deployed one does, so that a
// slow client cannot hold `digelao mock`'s connections for ever.
func TestServerHasTimeouts(t *testing.T) {
	t.Parallel()
	s, err := New()
	require.NoError(t, err)
	t.Cleanup(s.Close)
	cfg := s.hs.Config
	assert.Positive(t, cfg.ReadHeaderTimeout)
	assert.Positive(t, cfg.ReadTimeout)
	assert.Positive(t, cfg.WriteTimeout)
	assert.Positive(t, cfg.IdleTimeout)
}

func TestNewReportsBadOptions(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]Option{
		"nil":        nil,
		"time scale": WithTimeScale(0),
		"push delay": WithPushDelay(-1),
		"account":    WithAccount(Account{Username: Username, Password: "x"}),
		"path":       WithImportResultPath("x"),
	} {
		s, err := New(opt)
		assert.Error(t, err, name)
		assert.Nil(t, s, name)
		assert.Panics(t, func() { NewServer(opt) }, name)
	}
}
