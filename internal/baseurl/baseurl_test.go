package baseurl

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCanonical(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"https://ai1.example.com":             "https://ai1.example.com",
		"HTTPS://AI1.Example.COM:443/":        "https://ai1.example.com",
		"http://AI1.example.com:80//":         "http://ai1.example.com",
		"http://ai1.example.com:443":          "http://ai1.example.com:443",
		"https://ai1.example.com:80":          "https://ai1.example.com:80",
		"http://ai1.example.com:8080/":        "http://ai1.example.com:8080",
		"http://[::1]:80":                     "http://[::1]",
		"https://Ai1.example.com/Console/Api": "https://ai1.example.com/Console/Api",
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err, raw)
		before := u.String()
		assert.Equal(t, want, Canonical(u), raw)
		assert.Equal(t, before, u.String(), "%s: u is not changed", raw)
	}
}
