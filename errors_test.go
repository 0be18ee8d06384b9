package digelao

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/testkit"
)

// echoPasswords are passwords whose characters json_encode escapes one way or another, depending
// on its flags.
var echoPasswords = []string{
	"密码/Ab1x",
	`pa"ss<wörd>`,
	`a&b'c<d>e"f`,
	"x😀/y🀄z",
	`back\slash"q/`,
	"tab\there é",
	"p a+b%2F&c=d",
	"it's \\ \"q\"",
}

// TestExcerptHidesEveryPHPEcho: however PHP echoes a login's password — json_encode under every
// combination of the flags that change escaping, HTML-escaped, inside another JSON string,
// percent-encoded — no form of it that PHP wrote is left in an error's excerpt.
func TestExcerptHidesEveryPHPEcho(t *testing.T) {
	t.Parallel()
	in, err := json.Marshal(echoPasswords)
	require.NoError(t, err)
	cmd := exec.Command(testkit.PHP(t), "-n", "testdata/php/echoes.php")
	cmd.Stdin = bytes.NewReader(in)
	out, err := cmd.Output()
	require.NoError(t, err)
	var echoes []struct{ Flags, Password, Shape, Form, Echo string }
	require.NoError(t, json.Unmarshal(out, &echoes))
	require.Len(t, echoes, len(echoPasswords)*(64*5+5))
	leaked := 0
	for _, e := range echoes {
		name := fmt.Sprintf("%s %q [%s]: %s", e.Shape, e.Password, e.Flags, e.Echo)
		require.Contains(t, e.Echo, e.Form, name) // the script's own check
		got := excerpt([]byte(e.Echo), e.Password)
		if strings.Contains(got, e.Form) || strings.Contains(got, e.Password) {
			leaked++
			t.Errorf("%s\n\tleaks in %s", name, got)
			continue
		}
		assert.Contains(t, got, "[REDACTED]", name)
		assert.Contains(t, got, "demo", "%s: only the password is removed", name)
	}
	t.Logf("%d echoes, %d leaked", len(echoes), leaked)
}

// TestLoginEchoedByPHPShowsNoPassword: a PHP login endpoint that fails and echoes the request it
// decoded — re-encoded with ThinkPHP's JSON_UNESCAPED_UNICODE and other flags — in a JSON error,
// in its msg, or on an HTML debug page.
func TestLoginEchoedByPHPShowsNoPassword(t *testing.T) {
	t.Parallel()
	base := testkit.ServePHP(t, "testdata/php/echo_login.php")
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} // see TestPHPAcceptsSignedRequests
	const (
		unicode = 256 // JSON_UNESCAPED_UNICODE
		slashes = 64  // JSON_UNESCAPED_SLASHES
		quot    = 8   // JSON_HEX_QUOT
		tag     = 1   // JSON_HEX_TAG
	)
	for _, flags := range []int{0, unicode, slashes, quot, unicode | slashes, unicode | quot | tag} {
		for _, shape := range []string{"json", "msg", "html"} {
			for _, p := range echoPasswords {
				pw := "Kx7Q" + p // the marker survives every escaping: no form of pw is left if it is gone
				c, err := New(base, WithPassword(fmt.Sprintf("%d:%s", flags, shape), pw), WithHTTPClient(hc))
				require.NoError(t, err)
				_, err = c.Login(context.Background())
				require.Error(t, err)
				assert.NotContains(t, err.Error(), "Kx7Q", "flags %d, %s, %q", flags, shape, pw)
				assert.Contains(t, err.Error(), "[REDACTED]", "flags %d, %s, %q", flags, shape, pw)
				if flags == unicode && p == echoPasswords[0] {
					t.Logf("%s: %v", shape, err)
				}
			}
		}
	}
}
