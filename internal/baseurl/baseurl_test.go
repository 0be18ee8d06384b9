package baseurl

import (
	"net/url"
	"strings"
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

// Spellings of one address, each of which net/http dials and asks for as the other, give one
// Canonical: a port written with zeros or left empty, an IPv6 address written out, escapes in
// either case, an empty query. A zone keeps its case: it names an interface.
func TestCanonicalOneAddressOneSpelling(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"https://ai1.example.com:0443":     "https://ai1.example.com",
		"http://ai1.example.com:080/":      "http://ai1.example.com",
		"http://ai1.example.com:08080":     "http://ai1.example.com:8080",
		"https://ai1.example.com:":         "https://ai1.example.com",
		"http://[::1]:":                    "http://[::1]",
		"http://[0:0:0:0:0:0:0:1]:8080":    "http://[::1]:8080",
		"http://[FE80::1%25EN0]:8080":      "http://[fe80::1%25EN0]:8080",
		"http://[fe80::1%25EN0]":           "http://[fe80::1%25EN0]",
		"https://ai1.example.com/a%2fb%c3": "https://ai1.example.com/a%2Fb%C3",
		"https://ai1.example.com/?":        "https://ai1.example.com",
		"http://127.000.0.1":               "http://127.000.0.1",    // not an address to netip: left as written
		"http://1.2.3.4%25eth0":            "http://1.2.3.4%25eth0", // a zone on no IPv6 address: kept, the dial refuses it
		"http://A%25B":                     "http://a%25b",
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err, raw)
		assert.Equal(t, want, Canonical(u), raw)
	}
}

// Canonical(u) parses back to u's host, its port (default dropped, zeros dropped) and its path
// (trailing slashes aside), and leaves u alone.
func TestCanonicalKeepsTheAddress(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		"http://h:65536", "http://h:0065536", "http://h:00", "http://h:0",
		"http://[::ffff:1.2.3.4]", "https://[fe80::1%25eth0]:0443", "http://[fe80::1%25eth0]:8080",
		"http://[::FFFF:1.2.3.4]:08080", "http://[fe80::1%25EN0]", "http://[::1%25a:b]:80",
		"http://a/a%2Fb", "http://a/a%2fb/", "http://h/x/%2F", "http://h/%2e%2e/x", "http://h/a b",
		"http://a%25b:8080", "http://%C3%A9.com",
	} {
		u, err := url.Parse(raw)
		require.NoError(t, err, raw)
		before := *u
		c := Canonical(u)
		assert.Equal(t, before, *u, "%s: u is not changed", raw)
		v, err := url.Parse(c)
		require.NoError(t, err, "%s -> %s", raw, c)
		assert.True(t, strings.EqualFold(u.Hostname(), v.Hostname()), "%s -> %s", raw, c)
		assert.Equal(t, u.Path, v.Path+"/"[:min(1, len(u.Path)-len(v.Path))], "%s -> %s", raw, c)
	}
}
