package digelao

import (
	"crypto/md5" //nolint:gosec // the platform's anti-hijack check is md5 by definition
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/digelao-go/digelao/internal/phpjson"
)

// Params is an ordered list of request parameters. The platform signs a request over its parameters
// in the order they are sent, so order is part of a request's meaning and Params keeps it.
//
// Values may be a string, any integer kind or a bool (all sent as JSON strings, bools as "1"/"0",
// as the platform's examples do), a nested *Params (an object), or a list: []string, []*Params or
// []any of those. Anything else makes MarshalJSON, Sign and every request fail before sending.
type Params struct {
	keys []string
	vals []any
}

// NewParams returns an empty parameter list.
func NewParams() *Params { return &Params{} }

// Set adds key with value, or replaces the value in place when key is already present, so the
// key keeps its first position. It returns p for chaining.
func (p *Params) Set(key string, value any) *Params {
	if i := p.index(key); i >= 0 {
		p.vals[i] = value
		return p
	}
	p.keys = append(p.keys, key)
	p.vals = append(p.vals, value)
	return p
}

// Get returns the value stored under key.
func (p *Params) Get(key string) (any, bool) {
	if i := p.index(key); i >= 0 {
		return p.vals[i], true
	}
	return nil, false
}

// Len returns the number of parameters.
func (p *Params) Len() int {
	if p == nil {
		return 0
	}
	return len(p.keys)
}

// Keys returns the parameter names in order.
func (p *Params) Keys() []string {
	if p == nil {
		return nil
	}
	return append([]string(nil), p.keys...)
}

// Clone returns a copy of p; nested values are shared.
func (p *Params) Clone() *Params {
	if p == nil {
		return NewParams()
	}
	return &Params{keys: append([]string(nil), p.keys...), vals: append([]any(nil), p.vals...)}
}

func (p *Params) index(key string) int {
	if p == nil {
		return -1
	}
	for i, k := range p.keys {
		if k == key {
			return i
		}
	}
	return -1
}

// MarshalJSON encodes p exactly as PHP's json_encode (default flags) encodes the array that PHP
// decodes from the request, so the bytes match what the platform hashes. Like a PHP array, a
// *Params that is empty or whose keys are "0", "1", … in order is written as a JSON list.
func (p *Params) MarshalJSON() ([]byte, error) {
	return appendValue(make([]byte, 0, 256), p, nil)
}

// Sign returns the platform's 8-character anti-hijack value ("url") for p:
// characters 2–9 of the lowercase hex md5 of p's PHP-style JSON encoding (REFERENCE §1.3).
func Sign(p *Params) (string, error) {
	var buf [768]byte           // see streamAt
	if p == nil || p.isList() { // not an object: an error, or a list, encoded whole
		b, err := appendValue(buf[:0], p, nil)
		if err != nil {
			return "", err
		}
		return signBytes(b), nil
	}
	_, sig, err := encodeSigned(buf[:0], nil, p, false)
	if err != nil {
		return "", err
	}
	return string(sig[:]), nil
}

// signBytes returns characters 2–9 of the hex md5 of b.
func signBytes(b []byte) string {
	sig := sigOf(md5.Sum(b)) //nolint:gosec // see import
	return string(sig[:])
}

// sigOf returns characters 2–9 of the hex form of an md5 sum.
func sigOf(sum [md5.Size]byte) (sig [sigLen]byte) {
	var h [10]byte
	hex.Encode(h[:], sum[:5])
	copy(sig[:], h[1:9])
	return sig
}

// streamAt and piece bound what waits in encodeSigned's buffer: it hashes what waits once that is
// streamAt bytes or more, before each member and before each piece of a string, which it escapes
// in pieces of at most piece bytes. So what waits stays under streamAt + 6×piece (every byte a
// \u00XX escape) + 5 bytes + a key: Sign's 768 bytes hold it for keys of up to 120 bytes. A
// longer key or a large nested value makes the buffer grow.
const (
	streamAt = 256
	piece    = 64
)

// encodeSigned appends to dst the encoding of pre's common parameters (none when pre is nil) and
// the members of p, which is an object, hashing it as it goes, and returns it with its signature.
// With keep false only what is not hashed yet stays in dst, so that Sign's buffer never grows and
// its only allocation is the signature; with keep true dst ends with the whole encoding.
func encodeSigned(dst []byte, pre *commonPrefix, p *Params, keep bool) ([]byte, [sigLen]byte, error) {
	var sig [sigLen]byte
	h := md5.New()     //nolint:gosec // see import
	hashed := len(dst) // dst[:hashed] is hashed
	begun := false     // whether h holds anything: when not, md5.Sum hashes the whole at once
	stream := func() {
		if len(dst)-hashed < streamAt {
			return
		}
		h.Write(dst[hashed:])
		begun = true
		if keep {
			hashed = len(dst)
		} else {
			dst = dst[:hashed]
		}
	}
	sep := byte('{')
	if pre != nil {
		dst = append(dst, pre.json...)
		hashed, sep, begun = len(dst), ',', true
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(pre.md5); err != nil {
			return dst, sig, err
		}
	}
	for i := range p.Len() {
		stream()
		k, v := p.keys[i], p.vals[i]
		var err error
		if dst, err = appendKey(append(dst, sep), k); err != nil {
			return dst, sig, err
		}
		sep = ','
		if s, ok := v.(string); ok { // escaped in pieces, each hashed before the next
			dst = append(dst, '"')
			for {
				n := cut(s, piece)
				if dst, err = phpjson.AppendEscaped(dst, s[:n]); err != nil || n == len(s) {
					break
				}
				s = s[n:]
				stream()
			}
			dst = append(dst, '"')
		} else {
			dst, err = appendValue(dst, v, nil)
		}
		if err != nil {
			return dst, sig, fmt.Errorf("%s: %w", k, err)
		}
	}
	dst = append(dst, '}')
	if !begun {
		return dst, sigOf(md5.Sum(dst[hashed:])), nil //nolint:gosec // see import
	}
	h.Write(dst[hashed:])
	var sum [md5.Size]byte
	return dst, sigOf([md5.Size]byte(h.Sum(sum[:0]))), nil
}

// cut returns the length of the first piece of s of at most n bytes that ends before a rune
// starts, so that escaping s piece by piece writes what escaping it whole writes, and fails where
// that fails. (When no rune starts in the last 4 bytes, s is not UTF-8 there: both fail.)
func cut(s string, n int) int {
	if n >= len(s) {
		return len(s)
	}
	for i := n; i > n-utf8.UTFMax && i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return i
		}
	}
	return n
}

// appendKey appends a member's name and colon.
func appendKey(dst []byte, k string) ([]byte, error) {
	dst, err := phpjson.AppendString(dst, k)
	if err != nil {
		return dst, fmt.Errorf("key %q: %w", k, err)
	}
	return append(dst, ':'), nil
}

// appendValue appends v's encoding. It is the encoder's only recursive function: a buffer that
// only it and non-recursive functions see can stay on its caller's stack. With counted not nil it
// only measures: between elements of lists and objects it adds what dst holds to *counted and
// empties dst, so that dst stays small; the size is *counted plus the length of the result.
func appendValue(dst []byte, v any, counted *int) ([]byte, error) {
	var err error
	switch v := v.(type) {
	case string:
		return phpjson.AppendString(dst, v)
	case rowBatch: // an import's contacts (contacts.go) encode, and measure, themselves
		if counted != nil {
			*counted += v.jsonLen()
			return dst, nil
		}
		return v.appendJSON(dst)
	case *Params:
		if v == nil {
			return dst, errors.New("nil *Params")
		}
		if v.isList() {
			return appendValue(dst, v.vals, counted)
		}
		sep := byte('{')
		for i, k := range v.keys {
			if dst, err = appendKey(append(drop(dst, counted), sep), k); err != nil {
				return dst, err
			}
			if dst, err = appendValue(dst, v.vals[i], counted); err != nil {
				return dst, fmt.Errorf("%s: %w", k, err)
			}
			sep = ','
		}
		return append(dst, '}'), nil
	case bool:
		if v {
			return append(dst, `"1"`...), nil
		}
		return append(dst, `"0"`...), nil
	case int:
		return appendInt(dst, int64(v)), nil
	case int8:
		return appendInt(dst, int64(v)), nil
	case int16:
		return appendInt(dst, int64(v)), nil
	case int32:
		return appendInt(dst, int64(v)), nil
	case int64:
		return appendInt(dst, v), nil
	case uint:
		return appendUint(dst, uint64(v)), nil
	case uint8:
		return appendUint(dst, uint64(v)), nil
	case uint16:
		return appendUint(dst, uint64(v)), nil
	case uint32:
		return appendUint(dst, uint64(v)), nil
	case uint64:
		return appendUint(dst, v), nil
	}
	n := listLen(v)
	if n < 0 {
		return dst, unsupported(v)
	}
	dst = append(dst, '[')
	for i := range n {
		if i > 0 {
			dst = append(drop(dst, counted), ',')
		}
		if l, ok := v.([]string); ok { // not through listElem, which allocates to box a string
			dst, err = phpjson.AppendString(dst, l[i])
		} else {
			dst, err = appendValue(dst, listElem(v, i), counted)
		}
		if err != nil {
			return dst, fmt.Errorf("[%d]: %w", i, err)
		}
	}
	return append(dst, ']'), nil
}

// drop empties dst into *counted once it holds streamAt bytes, when counting.
func drop(dst []byte, counted *int) []byte {
	if counted == nil || len(dst) < streamAt {
		return dst
	}
	*counted += len(dst)
	return dst[:0]
}

// unsupported reports a value type Params cannot send. It names only the type: values may be secret.
func unsupported(v any) error {
	return fmt.Errorf("unsupported parameter type %s", reflect.TypeOf(v))
}

// listLen returns the length of a list value, or -1 when v is not one of the supported lists.
func listLen(v any) int {
	switch l := v.(type) {
	case []string:
		return len(l)
	case []*Params:
		return len(l)
	case []any:
		return len(l)
	}
	return -1
}

// listElem returns element i of a list value accepted by listLen.
func listElem(v any, i int) any {
	switch l := v.(type) {
	case []string:
		return l[i]
	case []*Params:
		return l[i]
	}
	return v.([]any)[i]
}

func appendInt(dst []byte, n int64) []byte {
	dst = append(dst, '"')
	return append(strconv.AppendInt(dst, n, 10), '"')
}

func appendUint(dst []byte, n uint64) []byte {
	dst = append(dst, '"')
	return append(strconv.AppendUint(dst, n, 10), '"')
}

// isList reports whether PHP would see p as a list: no keys, or the keys "0", "1", … in order.
func (p *Params) isList() bool {
	for i, k := range p.keys {
		if k != strconv.Itoa(i) {
			return false
		}
	}
	return true
}

// signedBody returns the POST body for p: exactly the signed encoding with "url" added as the last
// member, so the bytes on the wire are the bytes that were hashed.
func signedBody(p *Params) ([]byte, error) {
	if p == nil || p.isList() {
		return nil, errListRequest
	}
	return bodyAfter(nil, p)
}

// bodyAfter returns the signed POST body for pre's common parameters (none when pre is nil)
// followed by p.
func bodyAfter(pre *commonPrefix, p *Params) ([]byte, error) {
	size := membersSize(p) + len(`,"url":"12345678"`) // the url in place of the closing brace, and its own
	if pre != nil {
		size += len(pre.json)
	}
	b, sig, err := encodeSigned(make([]byte, 0, size), pre, p, true)
	if err != nil {
		return nil, err
	}
	b = append(b[:len(b)-1], `,"url":"`...)
	b = append(b, sig[:]...)
	return append(b, `"}`...), nil
}

// membersSize returns room for p encoded as an object (what MarshalJSON writes). When p holds a
// nested value — an import's contacts, say — it is exact: p is measured without being kept, as
// append would grow a large buffer a quarter at a time. Else it saves that pass and assumes that
// strings need no escape and numbers are short, so that most calls still take one allocation.
func membersSize(p *Params) int {
	n := 0
	for i := range p.Len() {
		n += len(p.keys[i]) + len(`,"":""`)
		switch v := p.vals[i].(type) {
		case string:
			n += len(v)
		case *Params, []string, []*Params, []any, rowBatch:
			var buf [512]byte
			counted := 0
			b, _ := appendValue(buf[:0], p, &counted) // an error is encodeSigned's to report
			return counted + len(b)
		default:
			n += 20
		}
	}
	return n + len("}") // each member counted its separator: the first, the opening brace
}

// commonPrefix opens every POST body of one session: the encoding of its user_sn and api_key
// (`{"user_sn":…,"api_key":…`), with md5's state after those bytes.
type commonPrefix struct {
	userSN, apiKey string
	json, md5      []byte
}

// bodySigner signs a client's POST bodies. It keeps the commonPrefix of the latest session, so
// that its bytes are encoded and hashed once per session. It is safe for concurrent use.
type bodySigner struct{ latest atomic.Pointer[commonPrefix] }

// signedBody returns the POST body for sess's user_sn and api_key followed by p, or for p alone
// when sess is nil.
func (s *bodySigner) signedBody(sess *Session, p *Params) ([]byte, error) {
	if sess == nil {
		return signedBody(p)
	}
	pre := s.latest.Load()
	if pre == nil || pre.userSN != sess.UserSN || pre.apiKey != sess.APIKey.Value() {
		b, err := NewParams().Set("user_sn", sess.UserSN).Set("api_key", sess.APIKey.Value()).MarshalJSON()
		if err != nil {
			return nil, err
		}
		h := md5.New() //nolint:gosec // see import
		h.Write(b[:len(b)-1])
		state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return nil, err
		}
		pre = &commonPrefix{userSN: sess.UserSN, apiKey: sess.APIKey.Value(), json: b[:len(b)-1], md5: state}
		s.latest.Store(pre)
	}
	return bodyAfter(pre, p)
}

// signedQuery returns the GET query for p in exactly p's order with "url" last, percent-encoded so
// that PHP's $_GET decodes the same values the signature was computed over. Nested values use PHP's
// bracket syntax (k[0][name]=v).
func signedQuery(p *Params) (string, error) {
	if p.isList() {
		return "", errListRequest
	}
	sig, err := Sign(p)
	if err != nil {
		return "", err
	}
	q := make([]byte, 0, 256)
	n := 0
	for i, k := range p.keys {
		if k == "" || strings.ContainsAny(k, ". []") {
			return "", fmt.Errorf("key %q: PHP renames query keys holding '.', ' ', '[' or ']'", k)
		}
		if q, err = appendQuery(q, queryEscape(k), p.vals[i], &n); err != nil {
			return "", fmt.Errorf("%s: %w", k, err)
		}
	}
	q = append(q, "&url="...)
	return string(append(q, sig...)), nil
}

// errListRequest rejects a request whose parameters PHP would read as a list, such as no parameters.
var errListRequest = errors.New("request parameters must be named (PHP would read these as a list)")

// maxQueryVars is PHP's default max_input_vars; PHP silently drops variables past it.
const maxQueryVars = 1000

func appendQuery(q []byte, name string, v any, n *int) ([]byte, error) {
	switch v := v.(type) {
	case *Params:
		if v == nil || len(v.keys) == 0 {
			return q, errors.New("an empty object cannot be sent in a query")
		}
		for i, k := range v.keys {
			if strings.ContainsAny(k, "[]") {
				return q, fmt.Errorf("key %q: brackets cannot be sent in a query key", k)
			}
			var err error
			if q, err = appendQuery(q, name+"["+queryEscape(k)+"]", v.vals[i], n); err != nil {
				return q, err
			}
		}
		return q, nil
	}
	if size := listLen(v); size >= 0 {
		return appendQueryList(q, name, v, size, n)
	}
	// A scalar: its JSON form is a quoted string with PHP escapes; the query carries the raw text.
	s, err := scalarString(v)
	if err != nil {
		return q, err
	}
	if *n++; *n > maxQueryVars {
		return q, fmt.Errorf("more than %d query variables (PHP's max_input_vars)", maxQueryVars)
	}
	if len(q) > 0 {
		q = append(q, '&')
	}
	q = append(q, name...)
	q = append(q, '=')
	return append(q, queryEscape(s)...), nil
}

func appendQueryList(q []byte, name string, list any, size int, n *int) ([]byte, error) {
	if size == 0 {
		return q, errors.New("an empty list cannot be sent in a query")
	}
	for i := range size {
		var err error
		if q, err = appendQuery(q, name+"["+strconv.Itoa(i)+"]", listElem(list, i), n); err != nil {
			return q, err
		}
	}
	return q, nil
}

// scalarString returns the text a scalar parameter is sent as.
func scalarString(v any) (string, error) {
	switch v := v.(type) {
	case string:
		if !utf8.ValidString(v) {
			return "", phpjson.ErrInvalidUTF8
		}
		return v, nil
	case bool:
		if v {
			return "1", nil
		}
		return "0", nil
	case *Params, rowBatch:
		return "", unsupported(v)
	}
	if listLen(v) >= 0 {
		return "", unsupported(v)
	}
	b, err := appendValue(nil, v, nil)
	if err != nil {
		return "", err
	}
	return string(b[1 : len(b)-1]), nil // integers encode as "123"
}

// queryEscape percent-encodes everything but RFC 3986 unreserved characters, so "+", "&", "#",
// "%", "|" and non-ASCII text reach PHP unchanged.
func queryEscape(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}
