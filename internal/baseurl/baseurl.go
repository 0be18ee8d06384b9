// Package baseurl writes a platform address one way, so that the client (whose sessions are kept
// under it, shared through a TokenStore) and the command (whose session files are named by it)
// agree on one address however it was spelled.
package baseurl

import (
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Canonical returns u with its scheme and host in lower case (an IPv6 address as netip writes it,
// its zone as given), its port as a number and none for the scheme's default, the hex digits of
// its path's escapes in upper case, and no empty query or trailing slash; its path keeps its case.
// u is not changed.
func Canonical(u *url.URL) string {
	c := *u
	c.Scheme = strings.ToLower(c.Scheme)
	c.Host = host(c.Scheme, c.Hostname(), c.Port())
	c.RawPath = upperEscapes(c.EscapedPath())
	c.ForceQuery = false
	return strings.TrimRight(c.String(), "/")
}

// host joins name and port as Canonical writes them.
func host(scheme, name, port string) string {
	if a, err := netip.ParseAddr(name); err == nil {
		name = a.String() // its hex digits in lower case; a zone names an interface, whose case counts
	} else {
		name = strings.ToLower(name)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err == nil {
		port = strconv.FormatUint(n, 10)
	}
	if port == "" || scheme == "http" && port == "80" || scheme == "https" && port == "443" {
		if strings.Contains(name, ":") {
			return "[" + name + "]"
		}
		return name
	}
	return net.JoinHostPort(name, port)
}

// upperEscapes writes the hex digits of the escapes in p in upper case.
func upperEscapes(p string) string {
	if !strings.Contains(p, "%") {
		return p
	}
	b := []byte(p)
	for i := 0; i+2 < len(b); i++ {
		if b[i] == '%' {
			b[i+1], b[i+2] = upperHex(b[i+1]), upperHex(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - 'a' + 'A'
	}
	return c
}
