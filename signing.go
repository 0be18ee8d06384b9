package digelao

import (
	"crypto/md5" //nolint:gosec // the platform's anti-hijack check is md5 by definition
	"encoding/binary"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
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
	return appendValue(make([]byte, 0, 256), p)
}

// Sign returns the platform's 8-character anti-hijack value ("url") for p:
// characters 2–9 of the lowercase hex md5 of p's PHP-style JSON encoding (REFERENCE §1.3).
func Sign(p *Params) (string, error) {
	var stack [512]byte
	b, ok := appendFlat(stack[:0], p)
	if !ok {
		var err error
		if b, err = appendValue(make([]byte, 0, 512), p); err != nil {
			return "", err
		}
	}
	return signBytes(b), nil
}

// signBytes returns characters 2–9 of the hex md5 of b.
func signBytes(b []byte) string {
	sum := md5.Sum(b) //nolint:gosec // see import
	// Characters 2–9 are the 8 hex digits after the first: the low 28 bits of the first 4 bytes
	// and the high half of the fifth.
	v := binary.BigEndian.Uint32(sum[:4])<<4 | uint32(sum[4]>>4)
	var h [8]byte
	for i := range h {
		h[i] = phpjson.HexDigits[v>>(28-4*i)&0xf]
	}
	return string(h[:])
}

// appendFlat encodes p when it is an object of scalars, the usual request. Unlike appendValue it
// does not recurse, so a caller's stack buffer stays on the stack. ok is false for anything else
// (a list, a nested value, an error); appendValue then encodes p, or reports why it cannot.
func appendFlat(dst []byte, p *Params) (out []byte, ok bool) {
	if p == nil || p.isList() {
		return dst, false
	}
	sep := byte('{')
	for i, k := range p.keys {
		var err error
		if dst, err = phpjson.AppendString(append(dst, sep), k); err != nil {
			return dst, false
		}
		dst = append(dst, ':')
		if s, isString := p.vals[i].(string); isString { // the usual value, without appendScalar's call
			dst, err = phpjson.AppendString(dst, s)
		} else if dst, ok, err = appendScalar(dst, p.vals[i]); !ok {
			return dst, false
		}
		if err != nil {
			return dst, false
		}
		sep = ','
	}
	return append(dst, '}'), true
}

// appendKey appends the i-th member's name and colon, after a comma unless it is the first.
func appendKey(dst []byte, i int, k string) ([]byte, error) {
	if i > 0 {
		dst = append(dst, ',')
	}
	dst, err := phpjson.AppendString(dst, k)
	if err != nil {
		return dst, fmt.Errorf("key %q: %w", k, err)
	}
	return append(dst, ':'), nil
}

func appendValue(dst []byte, v any) ([]byte, error) {
	if dst, ok, err := appendScalar(dst, v); ok {
		return dst, err
	}
	if p, ok := v.(*Params); ok {
		return appendParams(dst, p)
	}
	if rb, ok := v.(rowBatch); ok { // an import's contacts (contacts.go) encode themselves
		return rb.appendJSON(dst)
	}
	if n := listLen(v); n >= 0 {
		return appendList(dst, v, n)
	}
	return dst, unsupported(v)
}

// appendScalar appends a string, bool or integer value; ok is false for any other type.
func appendScalar(dst []byte, v any) (out []byte, ok bool, err error) {
	if s, isString := v.(string); isString { // the usual value, tested first: one comparison
		dst, err = phpjson.AppendString(dst, s)
		return dst, true, err
	}
	switch v := v.(type) {
	case bool:
		if v {
			return append(dst, `"1"`...), true, nil
		}
		return append(dst, `"0"`...), true, nil
	case int:
		return appendInt(dst, int64(v)), true, nil
	case int8:
		return appendInt(dst, int64(v)), true, nil
	case int16:
		return appendInt(dst, int64(v)), true, nil
	case int32:
		return appendInt(dst, int64(v)), true, nil
	case int64:
		return appendInt(dst, v), true, nil
	case uint:
		return appendUint(dst, uint64(v)), true, nil
	case uint8:
		return appendUint(dst, uint64(v)), true, nil
	case uint16:
		return appendUint(dst, uint64(v)), true, nil
	case uint32:
		return appendUint(dst, uint64(v)), true, nil
	case uint64:
		return appendUint(dst, v), true, nil
	}
	return dst, false, nil
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

func appendList(dst []byte, list any, n int) ([]byte, error) {
	dst = append(dst, '[')
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendValue(dst, listElem(list, i)); err != nil {
			return dst, fmt.Errorf("[%d]: %w", i, err)
		}
	}
	return append(dst, ']'), nil
}

func appendParams(dst []byte, p *Params) ([]byte, error) {
	if p == nil {
		return dst, fmt.Errorf("nil *Params")
	}
	if p.isList() {
		return appendList(dst, p.vals, len(p.vals))
	}
	dst = append(dst, '{')
	for i, k := range p.keys {
		var err error
		if dst, err = appendKey(dst, i, k); err != nil {
			return dst, err
		}
		if dst, err = appendValue(dst, p.vals[i]); err != nil {
			return dst, fmt.Errorf("%s: %w", k, err)
		}
	}
	return append(dst, '}'), nil
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
	if p.isList() {
		return nil, errListRequest
	}
	size, err := bodySize(p)
	if err != nil {
		return nil, err
	}
	b, err := appendParams(make([]byte, 0, size), p)
	if err != nil {
		return nil, err
	}
	sig := signBytes(b)
	b = append(b[:len(b)-1], `,"url":"`...)
	b = append(b, sig...)
	return append(b, `"}`...), nil
}

// bodySize returns the room p's body takes: 512 bytes for a typical call and its url, or, when p
// holds an import's contacts (a rowBatch: megabytes, which it measures itself), exactly the
// body's length, so that the body is allocated once.
func bodySize(p *Params) (int, error) {
	var rest *Params // p without its rowBatch values
	size := len(`,"url":""`) + sigLen
	for i := range p.Len() {
		if rb, ok := p.vals[i].(rowBatch); ok {
			if rest == nil {
				rest = p.Clone()
			}
			rest.vals[i] = "" // encoded as ""
			size += rb.jsonLen() - len(`""`)
		}
	}
	if rest == nil {
		return 512, nil
	}
	b, err := appendParams(nil, rest)
	return size + len(b), err
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
	}
	b, ok, err := appendScalar(nil, v)
	if !ok {
		return "", unsupported(v)
	}
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
