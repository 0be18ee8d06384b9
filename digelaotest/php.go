package digelaotest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/digelao-go/digelao/internal/phpform"
	"github.com/digelao-go/digelao/internal/phpjson"
)

// array is an ordered PHP array: the parameters PHP decodes from a request, and every reply the
// fake writes. Keys are strings; PHP's integer keys appear in their canonical decimal form, which
// is exactly the string PHP writes back out, so the two never need telling apart except for "[]".
//
// Values are string, number (a JSON number literal from a request), int, int64, float64, bool,
// nil, *array, or a list ([]any, []string, []*array) that the fake builds for replies.
type array struct {
	keys []string
	vals []any
	idx  map[string]int // built once the array grows past indexAt keys
	next int64          // PHP's nNextFreeElement: the key "[]" appends under
}

// number is a JSON number exactly as received.
type number string

// value is what PHP's json_decode makes of n: an int64 when n is an integer that fits, else a
// float64 (±Inf beyond the float range, as PHP's zend_strtod gives).
func (n number) value() any {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i
	}
	f, _ := strconv.ParseFloat(string(n), 64) // only a range error: the decoder checked the syntax
	return f
}

// indexAt is the size from which lookups use a map.
const indexAt = 16

// obj builds an array from key, value pairs, for replies.
func obj(kv ...any) *array {
	a := &array{keys: make([]string, 0, len(kv)/2), vals: make([]any, 0, len(kv)/2)}
	for i := 0; i+1 < len(kv); i += 2 {
		a.set(kv[i].(string), kv[i+1])
	}
	return a
}

func (a *array) len() int { return len(a.keys) }

func (a *array) index(k string) int {
	if a.idx != nil {
		if i, ok := a.idx[k]; ok {
			return i
		}
		return -1
	}
	for i, key := range a.keys {
		if key == k {
			return i
		}
	}
	return -1
}

// get returns the value under k.
func (a *array) get(k string) (any, bool) {
	if a == nil {
		return nil, false
	}
	if i := a.index(k); i >= 0 {
		return a.vals[i], true
	}
	return nil, false
}

// set stores v under k; an existing key keeps its position, as in PHP.
func (a *array) set(k string, v any) {
	if i := a.index(k); i >= 0 {
		a.vals[i] = v
		return
	}
	a.keys = append(a.keys, k)
	a.vals = append(a.vals, v)
	if n, ok := phpform.IntKey(k); ok && n >= a.next {
		a.next = n + 1
	}
	switch {
	case a.idx != nil:
		a.idx[k] = len(a.keys) - 1
	case len(a.keys) > indexAt:
		a.idx = make(map[string]int, 2*len(a.keys))
		for i, key := range a.keys {
			a.idx[key] = i
		}
	}
}

// push appends v under the next integer key, as PHP's $a[] = v does.
func (a *array) push(v any) { a.set(strconv.FormatInt(a.next, 10), v) }

// del removes k, keeping the order of the rest.
func (a *array) del(k string) {
	i := a.index(k)
	if i < 0 {
		return
	}
	a.keys = append(a.keys[:i], a.keys[i+1:]...)
	a.vals = append(a.vals[:i], a.vals[i+1:]...)
	if a.idx != nil {
		delete(a.idx, k)
		for j := i; j < len(a.keys); j++ {
			a.idx[a.keys[j]] = j
		}
	}
}

// isList reports whether PHP's json_encode writes a as a list: no keys, or 0, 1, … in order.
func (a *array) isList() bool {
	for i, k := range a.keys {
		if k != strconv.Itoa(i) {
			return false
		}
	}
	return true
}

// str returns the parameter k as PHP's (string) cast reads a scalar; "" when k is missing or holds
// an array.
func (a *array) str(k string) string {
	v, _ := a.get(k)
	return scalarText(v)
}

func scalarText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case number:
		return scalarText(v.value())
	case float64:
		return floatText(v)
	case bool:
		if v {
			return "1"
		}
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return ""
}

// encodePHP returns v as PHP's json_encode (default flags) writes it.
func encodePHP(v any) ([]byte, error) { return appendPHP(make([]byte, 0, 256), v) }

func appendPHP(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case string:
		return phpjson.AppendString(dst, v)
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case float64:
		return appendFloat(dst, v)
	case number:
		return appendPHP(dst, v.value())
	case *array:
		if v.isList() {
			return appendList(dst, v.vals)
		}
		dst = append(dst, '{')
		for i, k := range v.keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = phpjson.AppendString(dst, k); err != nil {
				return dst, err
			}
			dst = append(dst, ':')
			if dst, err = appendPHP(dst, v.vals[i]); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	case []any:
		return appendList(dst, v)
	case []string:
		return appendList(dst, v)
	case []*array:
		return appendList(dst, v)
	}
	return dst, fmt.Errorf("digelaotest: cannot encode %T", v)
}

func appendList[T any](dst []byte, list []T) ([]byte, error) {
	dst = append(dst, '[')
	for i, v := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendPHP(dst, v); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

// appendFloat writes f as PHP's json_encode does with serialize_precision -1: the shortest digits
// that read back as f, in exponent form ("1.0e+25", "1.5e-7") below 1e-4 or from 1e17 on.
func appendFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, errors.New("inf and NaN cannot be JSON-encoded")
	}
	return appendGcvt(dst, f, 0, 'e'), nil
}

// phpPrecision is PHP's default precision ini setting, which its (string) cast of a float uses.
const phpPrecision = 14

// floatText is PHP's (string) cast of f: 14 significant digits, in exponent form below 1e-4 or
// from 1e15 on ("1.0" is "1", 1e20 "1.0E+20", 0.30000000000000004 "0.3"), INF, -INF and NAN.
func floatText(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NAN"
	case math.IsInf(f, 1):
		return "INF"
	case math.IsInf(f, -1):
		return "-INF"
	}
	return string(appendGcvt(nil, f, phpPrecision, 'E'))
}

// appendGcvt is PHP's php_gcvt: the digits of f — the shortest that read back as f when
// precision is 0 (serialize_precision -1, which then counts as 17), else f rounded half to even to
// precision significant digits — written plainly, or as d.ddd<e>±x when the decimal exponent is
// below -4 or at least precision.
func appendGcvt(dst []byte, f float64, precision int, e byte) []byte {
	if math.Signbit(f) {
		dst = append(dst, '-')
		f = -f
	}
	if f == 0 {
		return append(dst, '0')
	}
	sig := -1
	if precision > 0 {
		sig = precision - 1
	} else {
		precision = 17
	}
	mant, exp, _ := strings.Cut(strconv.FormatFloat(f, 'e', sig, 64), "e") // d.ddde±XX
	digits := strings.Replace(mant, ".", "", 1)
	if sig < 0 || !keepsZeros(f, precision) {
		digits = strings.TrimRight(digits, "0")
	}
	x, _ := strconv.Atoi(exp)
	decpt := x + 1 // f = 0.digits × 10^decpt
	switch {
	case decpt < -3 || decpt > precision:
		dst = append(dst, digits[0], '.')
		if len(digits) == 1 {
			dst = append(dst, '0')
		} else {
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, e)
		if x < 0 {
			return strconv.AppendInt(append(dst, '-'), int64(-x), 10)
		}
		return strconv.AppendInt(append(dst, '+'), int64(x), 10)
	case decpt <= 0:
		dst = append(dst, "0."...)
		dst = append(dst, strings.Repeat("0", -decpt)...)
		return append(dst, digits...)
	case len(digits) <= decpt:
		dst = append(dst, digits...)
		return append(dst, strings.Repeat("0", decpt-len(digits))...)
	default:
		dst = append(dst, digits[:decpt]...)
		return append(append(dst, '.'), digits[decpt:]...)
	}
}

// keepsZeros reports whether PHP's zend_dtoa keeps the trailing zeros of f rounded to precision
// digits. It rounds an integer of precision+1 digits below 1e15 on a path of its own, which
// leaves them when the last digit is an exact tie rounded down to even: (string)120000000000005.0
// is "1.2000000000000E+14", (string)120000000000004.0 "1.2E+14".
func keepsZeros(f float64, precision int) bool {
	if f >= 1e15 || f != math.Trunc(f) {
		return false
	}
	s := strconv.FormatFloat(f, 'f', 0, 64)
	return len(s) == precision+1 && s[precision] == '5' && (s[precision-1]-'0')%2 == 0
}

// maxJSONDepth is the deepest container nesting PHP's json_decode accepts with its default depth.
const maxJSONDepth = 511

var errPHPJSON = errors.New("json_decode would fail")

// decodeJSON decodes b as PHP's json_decode($b, true) does, keeping the order of object keys: an
// object or a list becomes an *array, a number stays its literal. It fails where PHP fails:
// invalid UTF-8, an unpaired \u surrogate, nesting deeper than 511, or anything but one value.
func decodeJSON(b []byte) (any, error) {
	if !utf8.Valid(b) || !pairedSurrogates(b) {
		return nil, errPHPJSON
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errPHPJSON
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, errPHPJSON
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxJSONDepth || (t != '{' && t != '[') {
			return nil, errPHPJSON
		}
		a := &array{}
		for dec.More() {
			key := ""
			if t == '{' {
				kt, err := dec.Token()
				if err != nil {
					return nil, errPHPJSON
				}
				key = kt.(string)
			}
			v, err := decodeValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			if t == '{' {
				a.set(key, v)
			} else {
				a.push(v)
			}
		}
		if _, err := dec.Token(); err != nil {
			return nil, errPHPJSON
		}
		return a, nil
	case json.Number:
		return number(t), nil
	default: // string, bool, nil
		return t, nil
	}
}

// pairedSurrogates reports whether every \u escape of a UTF-16 surrogate in b is part of a pair;
// PHP rejects a lone one where encoding/json would substitute U+FFFD.
func pairedSurrogates(b []byte) bool {
	hi := false // the previous escape was a high surrogate
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || i+1 >= len(b) {
			if hi {
				return false
			}
			continue
		}
		i++
		if b[i] != 'u' || i+4 >= len(b) {
			if hi {
				return false
			}
			continue
		}
		r, err := strconv.ParseUint(string(b[i+1:i+5]), 16, 16)
		i += 4
		switch {
		case err != nil:
			return false
		case r >= 0xd800 && r < 0xdc00:
			if hi {
				return false
			}
			hi = true
		case r >= 0xdc00 && r < 0xe000:
			if !hi {
				return false
			}
			hi = false
		case hi:
			return false
		}
	}
	return !hi
}

// maxFileUploads is PHP's default max_file_uploads.
const maxFileUploads = 20

// fromForm returns the variables PHP read from a query string or a form (phpform) as an array.
func fromForm(f *phpform.Array) *array {
	a := &array{}
	for k, v := range f.All() {
		if sub, ok := v.(*phpform.Array); ok {
			a.set(k, fromForm(sub))
		} else {
			a.set(k, v)
		}
	}
	return a
}
