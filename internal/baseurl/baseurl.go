// Package baseurl writes a platform address one way, so that the client (whose sessions are kept
// under it, shared through a TokenStore) and the command (whose session files are named by it)
// agree on one address however it was spelled.
package baseurl

import (
	"net/url"
	"strings"
)

// Canonical returns u with its scheme and host in lower case, without the scheme's default port
// and without a trailing slash; its path keeps its case. u is not changed.
func Canonical(u *url.URL) string {
	c := *u
	c.Scheme, c.Host = strings.ToLower(c.Scheme), strings.ToLower(c.Host)
	if p := c.Port(); c.Scheme == "http" && p == "80" || c.Scheme == "https" && p == "443" {
		c.Host = strings.TrimSuffix(c.Host, ":"+p)
	}
	return strings.TrimRight(c.String(), "/")
}
