package digelaotest

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

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

// Every endpoint but login checks url (1.3), 6.9 and the import-state path included: a call
// without one and a call with a wrong one are answered 10001, and WithURLCheck(false) (the
// command's --no-url-check) lets both past it.
func TestEveryRouteChecksURL(t *testing.T) {
	t.Parallel()
	for _, check := range []bool{true, false} {
		s, err := New(WithURLCheck(check), WithImportResultPath("/api/importResult"))
		require.NoError(t, err)
		t.Cleanup(s.Close)
		require.NotEmpty(t, s.cfg.importPath)
		for path, rt := range s.routes {
			if rt.noURL {
				assert.Equal(t, "/api/login", path)
				continue
			}
			method := strings.Fields(rt.methods)[0]
			for _, u := range []string{"", "&url=00000000"} {
				query, body := "user_sn="+UserSN+"&api_key=K"+u, ""
				if path == "/api/multiServerCdrDownload" { // its own secret right: the url decides
					ts := strconv.FormatInt(time.Now().Unix(), 10)
					query += "&timestamp=" + ts + "&secret=" + md5Slice("K"+ts)
				}
				if method == http.MethodPost {
					query, body = "", `{"user_sn":"`+UserSN+`","api_key":"K"`+strings.Replace(u, "&url=", `,"url":"`, 1)
					if u != "" {
						body += `"`
					}
					body += "}"
				}
				req, err := http.NewRequest(method, s.URL+path+"?"+query, strings.NewReader(body))
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				b, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				refused := strings.Contains(string(b), `"code":10001`)
				assert.Equal(t, check, refused, "%s %s url %q, check %v: %s", method, path, u, check, b)
			}
		}
	}
}
