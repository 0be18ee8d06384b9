package transport

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// layers are the encodings a server may have wrapped an echoed secret in, innermost first:
// percent-encoding (a query, a path), a JSON string (or a PHP one: \' too), HTML escaping, a JSON string again (a body
// echoed inside a JSON reply; an HTML-escaped value in a JSON msg) and HTML escaping again. Every
// layer may leave any character as it is, so each subsequence of these is covered too, and each
// character's escape is chosen independently of the others': PHP's json_encode flags
// (JSON_UNESCAPED_UNICODE, JSON_UNESCAPED_SLASHES, JSON_HEX_*) each change the escape of some
// characters only.
const layers = "pjhjh"

// encoding is one way a layer writes a character. fold marks text whose ASCII letters may be of
// either case (hex digits, the u of \u and the x of &#x).
type encoding struct {
	text string
	fold bool
}

// encodings returns how layer writes the character ch (one UTF-8 rune, or one invalid byte),
// besides as it is.
func encodings(layer byte, ch string) []encoding {
	r, size := utf8.DecodeRuneInString(ch)
	valid := r != utf8.RuneError || size > 1
	switch layer {
	case 'p': // urlencode, rawurlencode, http_build_query, url.QueryEscape, url.PathEscape
		c := ch[0]
		switch {
		case ch == " ":
			return []encoding{{"+", false}, {"%20", false}}
		case len(ch) == 1 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'):
			return nil // never percent-encoded
		}
		var b strings.Builder
		for i := range len(ch) {
			fmt.Fprintf(&b, "%%%02X", ch[i])
		}
		return []encoding{{b.String(), true}}
	case 'j': // json_encode under any flags, encoding/json; PHP's var_export and addslashes
		if !valid {
			return nil
		}
		var out []encoding
		switch r {
		case '"':
			out = append(out, encoding{`\"`, false})
		case '\'':
			out = append(out, encoding{`\'`, false}) // var_export, addslashes, JavaScript
		case '\\':
			return []encoding{{`\\`, false}}
		case '/':
			return []encoding{{`\/`, false}}
		case '\b', '\f', '\n', '\r', '\t':
			out = append(out, encoding{`\` + string("bfnrt"[strings.IndexRune("\b\f\n\r\t", r)]), false})
		}
		switch {
		case r > 0xffff:
			r -= 0x10000
			out = append(out, encoding{fmt.Sprintf(`\u%04x\u%04x`, 0xd800+r>>10, 0xdc00+r&0x3ff), true})
		case r < 0x20 || r >= utf8.RuneSelf || strings.ContainsRune(`"<>&'`, r):
			out = append(out, encoding{fmt.Sprintf(`\u%04x`, r), true})
		}
		return out
	case 'h': // htmlspecialchars (HTML 4.01 and 5), html.EscapeString, html/template
		switch ch {
		case "&":
			return []encoding{{"&amp;", false}, {"&#38;", false}, {"&#038;", false}, {"&#x26;", true}}
		case "<":
			return []encoding{{"&lt;", false}, {"&#60;", false}, {"&#060;", false}, {"&#x3c;", true}}
		case ">":
			return []encoding{{"&gt;", false}, {"&#62;", false}, {"&#062;", false}, {"&#x3e;", true}}
		case `"`:
			return []encoding{{"&quot;", false}, {"&#34;", false}, {"&#034;", false}, {"&#x22;", true}}
		case "'":
			return []encoding{{"&#39;", false}, {"&#039;", false}, {"&apos;", false}, {"&#x27;", true}}
		}
	}
	return nil
}

// unit matches one character of a secret, or of an encoding of one, as it stands in the text:
// as it is (raw, through the layers further out), or as any of its encodings at its layer, each
// character of which goes through the layers further out in turn. A unit at the last layer with
// no encodings is the literal itself (raw nil).
type unit struct {
	lit   string // the character, for a literal
	fold  bool   // the literal's ASCII letters match either case
	raw   *unit
	alts  [][]*unit
	first byteSet // the bytes a match can start with
}

// byteSet is a set of bytes.
type byteSet [4]uint64

func (b *byteSet) add(c byte)      { b[c>>6] |= 1 << (c & 63) }
func (b *byteSet) has(c byte) bool { return b[c>>6]&(1<<(c&63)) != 0 }

// next returns the first index at or after p of a byte of b in s, or -1.
func (b *byteSet) next(s string, p int) int {
	if c, ok := b.single(); ok { // a letter or a digit: most secrets start with one
		if i := strings.IndexByte(s[p:], c); i >= 0 {
			return p + i
		}
		return -1
	}
	for ; p < len(s); p++ {
		if b.has(s[p]) {
			return p
		}
	}
	return -1
}

// single returns the one byte of b, if it has exactly one.
func (b *byteSet) single() (byte, bool) {
	n, c := 0, byte(0)
	for i, w := range b {
		n += bits.OnesCount64(w)
		if w != 0 {
			c = byte(i<<6 + bits.TrailingZeros64(w))
		}
	}
	return c, n == 1
}

func (b *byteSet) union(o *byteSet) {
	b[0], b[1], b[2], b[3] = b[0]|o[0], b[1]|o[1], b[2]|o[2], b[3]|o[3]
}

// unitTable holds the unit of every ASCII character at every layer (with and without fold). The
// encodings of every character are ASCII, so a secret needs units of its own only for its
// non-ASCII characters.
type unitTable [len(layers) + 1][2][utf8.RuneSelf]*unit

// asciiUnits is built on first use and never changed after.
var asciiUnits = sync.OnceValue(func() *unitTable {
	t := new(unitTable)
	for layer := len(layers); layer >= 0; layer-- { // each layer's units refer to the next one out's
		for f, fold := range []bool{false, true} {
			for c := range byte(utf8.RuneSelf) {
				t[layer][f][c] = t.build(layer, string(rune(c)), fold)
			}
		}
	}
	return t
})

// chars returns the units of the characters of s at layer: one per rune, or per invalid byte.
func (t *unitTable) chars(layer int, s string, fold bool) []*unit {
	out := make([]*unit, 0, len(s))
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		out = append(out, t.unit(layer, s[i:i+size], fold))
		i += size
	}
	return out
}

// unit returns the unit of the character ch at layer: from the table, or built for a non-ASCII one.
func (t *unitTable) unit(layer int, ch string, fold bool) *unit {
	if len(ch) == 1 && ch[0] < utf8.RuneSelf {
		if u := t[layer][b2i(fold)][ch[0]]; u != nil {
			return u
		}
	}
	return t.build(layer, ch, fold)
}

func (t *unitTable) build(layer int, ch string, fold bool) *unit {
	if layer == len(layers) {
		u := &unit{lit: ch, fold: fold && isLetter(ch)}
		u.first.add(ch[0])
		if u.fold {
			u.first.add(ch[0] ^ 0x20) // the other case
		}
		return u
	}
	raw := t.unit(layer+1, ch, fold)
	encs := encodings(layers[layer], ch)
	if len(encs) == 0 {
		return raw // nothing to choose at this layer
	}
	u := &unit{raw: raw, first: raw.first}
	for _, e := range encs {
		seq := t.chars(layer+1, e.text, e.fold)
		u.alts = append(u.alts, seq)
		u.first.union(&seq[0].first)
	}
	return u
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func isLetter(ch string) bool {
	return len(ch) == 1 && (ch[0]|0x20 >= 'a' && ch[0]|0x20 <= 'z')
}

// matcher finds encodings of a secret in s. The positions a match may have reached are kept as
// sets on one stack, so choices that reach the same position go on from it once: the work grows
// with the lengths of the secret and of its encodings, not with the number of ways to mix them.
type matcher struct {
	s     string
	stack []int
	steps int // calls of ends
}

// ends pushes each position at which an encoding of u starting at p ends, unless it is in
// m.stack[lo:] already.
func (m *matcher) ends(u *unit, p, lo int) {
	m.steps++
	if p == len(m.s) || !u.first.has(m.s[p]) {
		return
	}
	if u.raw == nil {
		if n := len(u.lit); len(m.s)-p >= n && (m.s[p:p+n] == u.lit || u.fold && strings.EqualFold(m.s[p:p+n], u.lit)) {
			m.push(lo, p+n)
		}
		return
	}
	m.ends(u.raw, p, lo)
	for _, seq := range u.alts {
		base := len(m.stack)
		m.seqEnds(seq, p)
		found := m.stack
		m.stack = m.stack[:base]
		for _, e := range found[base:] {
			m.push(lo, e)
		}
	}
}

// seqEnds pushes each position at which seq, matched from p, ends.
func (m *matcher) seqEnds(seq []*unit, p int) {
	base := len(m.stack)
	m.stack = append(m.stack, p)
	for _, u := range seq {
		cur := len(m.stack)
		for i := base; i < cur; i++ {
			m.ends(u, m.stack[i], cur)
		}
		n := copy(m.stack[base:], m.stack[cur:])
		m.stack = m.stack[:base+n]
		if n == 0 {
			return
		}
	}
}

// push pushes p unless it is in m.stack[lo:].
func (m *matcher) push(lo, p int) {
	for _, q := range m.stack[lo:] {
		if q == p {
			return
		}
	}
	m.stack = append(m.stack, p)
}

// redactOne replaces in s, from the left, the longest text at each position that is secret in
// any mix of the encodings of layers. Text that makes the search take more than maxSteps is
// replaced whole from where the search stopped: it fails closed.
func redactOne(s, secret string) string {
	seq := asciiUnits().chars(0, secret, false)
	m := matcher{s: s}
	var b strings.Builder
	done := 0 // s[:done] is written to b
	for p := 0; p < len(s); p++ {
		if p = seq[0].first.next(s, p); p < 0 {
			break
		}
		m.seqEnds(seq, p)
		if m.steps > maxSteps(len(s)) {
			b.WriteString(s[done:p])
			b.WriteString(redacted)
			return b.String()
		}
		if len(m.stack) == 0 {
			continue
		}
		end := slices.Max(m.stack)
		m.stack = m.stack[:0]
		b.WriteString(s[done:p])
		b.WriteString(redacted)
		done, p = end, end-1
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// maxSteps bounds the work of redacting a text of n bytes. A search takes one to a few steps a
// byte; up to about thirty for a secret made only of characters with many encodings ("&<>') in
// an HTML page quoting nested JSON; about a hundred in text made to be slow to search.
func maxSteps(n int) int { return 4096 + 64*n }

const redacted = "[REDACTED]"
