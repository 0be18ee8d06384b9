// Package phpform reads forms exactly as PHP 8 does: a query string or an
// application/x-www-form-urlencoded body is split into variables as parse_str, $_GET or $_POST
// split it (main/php_variables.c), and each variable is registered into an ordered PHP array as
// php_register_variable_ex registers it: the last value of a name wins, "a[]" appends, "a[x]"
// nests, ' ' and '.' in the base name become '_', and a name nested deeper than
// max_input_nesting_level is dropped.
package phpform

import (
	"iter"
	"math"
	"strconv"
	"strings"

	"github.com/digelao-go/digelao/internal/phpjson"
)

// PHP's defaults for max_input_vars and max_input_nesting_level.
const (
	MaxInputVars = 1000
	MaxNesting   = 64
)

// Var is a variable of a form: its name and its value, url-decoded.
type Var struct{ Name, Value string }

// Query returns the first n variables of s as parse_str and $_GET split a query string: at each
// '&', skipping empty pieces, s ending at a NUL byte (PHP reads it as a C string). more reports
// whether s holds more than n: PHP keeps the first MaxInputVars and warns.
func Query(s string, n int) (vars []Var, more bool) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	vars = make([]Var, 0, min(strings.Count(s, "&")+1, n))
	for piece := range strings.SplitSeq(s, "&") {
		if piece == "" {
			continue
		}
		if len(vars) == n {
			return vars, true
		}
		vars = append(vars, split(piece))
	}
	return vars, false
}

// Post returns the first n variables of an application/x-www-form-urlencoded body as PHP splits
// it into $_POST: at each '&', every byte kept, an empty piece (but a final one) being a variable
// without a name, which counts against max_input_vars but is not registered. more reports whether
// the body holds more than n: PHP registers the first MaxInputVars+1 (it checks the count after
// registering a variable) and warns.
func Post(body string, n int) (vars []Var, more bool) {
	body, _ = strings.CutSuffix(body, "&")
	if body == "" {
		return nil, false
	}
	vars = make([]Var, 0, min(strings.Count(body, "&")+1, n))
	for piece := range strings.SplitSeq(body, "&") {
		if len(vars) == n {
			return vars, true
		}
		vars = append(vars, split(piece))
	}
	return vars, false
}

// split reads "name=value", the name and the value url-decoded; without '=' the value is "".
func split(piece string) Var {
	name, value, _ := strings.Cut(piece, "=")
	return Var{Name: Decode(name), Value: Decode(value)}
}

// Decode is PHP's urldecode: "+" is a space, "%" and two hex digits a byte, any other byte itself.
func Decode(s string) string {
	if !strings.ContainsAny(s, "+%") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b = append(b, ' ')
		case c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]):
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c|0x20 && c|0x20 <= 'f' }

func unhex(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c | 0x20 - 'a' + 10
}

// ParseStr returns s as PHP's parse_str($s, $out) fills $out, and whether variables past
// max_input_vars were dropped (PHP warns).
func ParseStr(s string) (*Array, bool) {
	vars, more := Query(s, MaxInputVars)
	return fill(vars), more
}

// ParsePost returns body as PHP fills $_POST from an application/x-www-form-urlencoded body, and
// whether PHP warned that it holds more than max_input_vars variables (it keeps one more than
// that, and drops the rest).
func ParsePost(body string) (*Array, bool) {
	vars, _ := Post(body, MaxInputVars+1)
	return fill(vars), len(vars) > MaxInputVars
}

func fill(vars []Var) *Array {
	a := &Array{}
	for _, v := range vars {
		a.Set(v.Name, v.Value)
	}
	return a
}

// Array is an ordered PHP array of strings and arrays, as a form fills one. The zero value is an
// empty array. Keys are strings; an integer key of PHP's (a decimal integer without a sign but
// '-', leading zeros or "-0", within int64) is its decimal text, exactly what PHP writes back out.
type Array struct {
	keys []string
	vals []any // string or *Array
	at   map[string]int
	next int64 // PHP's nNextFreeElement, once used is set: the key a[] appends under
	used bool  // an integer key was stored: before that a[] appends under 0
}

// Len returns the number of elements.
func (a *Array) Len() int { return len(a.keys) }

// All yields the keys and values in PHP's order; a value is a string or an *Array.
func (a *Array) All() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		for i, k := range a.keys {
			if !yield(k, a.vals[i]) {
				return
			}
		}
	}
}

// Get returns the value under key: a string or an *Array.
func (a *Array) Get(key string) (any, bool) {
	i, ok := a.at[key]
	if !ok {
		return nil, false
	}
	return a.vals[i], true
}

// IsList reports whether PHP's json_encode writes a as a list: its keys are 0, 1, … in order.
func (a *Array) IsList() bool {
	for i, k := range a.keys {
		if k != strconv.Itoa(i) {
			return false
		}
	}
	return true
}

// Set registers the variable name with value as php_register_variable_ex does: leading spaces
// go, the name ends at a NUL byte, ' ' and '.' before the first '[' become '_', "[]" appends
// (also with one white-space byte inside, "[ ]"), "[key]" nests, text after a ']' that is not '['
// is ignored, and a '[' never closed joins the base name at the first level ("a[b.c" is "a_b_c":
// ' ', '.' and '[' after it become '_') and ends the name deeper. A name without a base ("[a]",
// "") is dropped; so is one nested deeper than MaxNesting, with everything already under its
// base; so is one that appends to an array whose next integer key would pass the largest int64.
// It returns how many arrays it made: what registering a form costs is its fields and these.
func (a *Array) Set(name, value string) (arrays int) {
	name = strings.TrimLeft(name, " ")
	if i := strings.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	open := strings.IndexByte(name, '[')
	if open < 0 {
		if name != "" {
			a.put(baseName(name), true, value)
		}
		return
	}
	if open == 0 {
		return
	}
	base := baseName(name[:open])
	t, key, keyed := a, base, true // where the value goes: t[key], or appended to t when !keyed
	for level, i := 1, open; ; level++ {
		if level > MaxNesting {
			a.del(base)
			return
		}
		i++ // past '['
		j := i
		if j < len(name) && strings.IndexByte(" \t\n\v\f\r", name[j]) >= 0 {
			j++ // PHP skips one white-space byte (C's isspace) before testing for "[]"
		}
		idx, indexed := "", false
		if j < len(name) && name[j] == ']' {
			i = j
		} else {
			end := strings.IndexByte(name[j:], ']')
			if end < 0 { // not an index
				if level == 1 {
					a.put(base+"_"+underscore(name[i:], " .["), true, value)
				} else {
					t.put(key, keyed, value)
				}
				return
			}
			idx, indexed, i = name[i:j+end], true, j+end
		}
		c, made := t.child(key, keyed)
		if c == nil {
			return
		}
		if made {
			arrays++
		}
		t, key, keyed = c, idx, indexed
		i++ // past ']'
		if i >= len(name) || name[i] != '[' {
			t.put(key, keyed, value)
			return
		}
	}
}

// baseName is a variable's name before its first '[', with ' ' and '.' as '_'.
func baseName(s string) string { return underscore(s, " .") }

// underscore returns s with each byte of chars replaced by '_'.
func underscore(s, chars string) string {
	if !strings.ContainsAny(s, chars) {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if strings.IndexByte(chars, c) >= 0 {
			b[i] = '_'
		}
	}
	return string(b)
}

// put stores v under key, or appends it when !keyed; an existing key keeps its place.
func (a *Array) put(key string, keyed bool, v any) {
	if !keyed {
		if key, keyed = a.nextKey(); !keyed {
			return // PHP's zend_hash_next_index_insert fails: the value is dropped
		}
	}
	if i, ok := a.at[key]; ok {
		a.vals[i] = v
		return
	}
	if a.at == nil {
		a.at = map[string]int{}
	}
	a.at[key] = len(a.keys)
	a.keys, a.vals = append(a.keys, key), append(a.vals, v)
	if n, ok := IntKey(key); ok && (!a.used || n >= a.next) {
		a.next, a.used = n, true
		if n < math.MaxInt64 {
			a.next++
		}
	}
}

// nextKey returns the key a[] appends under, and false when it is taken: the next integer key
// stops at the largest int64.
func (a *Array) nextKey() (string, bool) {
	if !a.used {
		return "0", true
	}
	key := strconv.FormatInt(a.next, 10)
	_, taken := a.at[key]
	return key, !taken
}

// child returns the array under key (appended when !keyed), making one where there is none or
// a string is, and whether it made one; nil when it cannot append.
func (a *Array) child(key string, keyed bool) (*Array, bool) {
	if keyed {
		if v, ok := a.Get(key); ok {
			if c, ok := v.(*Array); ok {
				return c, false
			}
		}
	} else if key, keyed = a.nextKey(); !keyed {
		return nil, false
	}
	c := &Array{}
	a.put(key, true, c)
	return c, true
}

// del removes key, keeping the order of the rest and the next integer key.
func (a *Array) del(key string) {
	i, ok := a.at[key]
	if !ok {
		return
	}
	a.keys, a.vals = append(a.keys[:i], a.keys[i+1:]...), append(a.vals[:i], a.vals[i+1:]...)
	delete(a.at, key)
	for j := i; j < len(a.keys); j++ {
		a.at[a.keys[j]] = j
	}
}

// IntKey reports whether PHP stores the array key k as an integer, and its value: k is "0" or a
// decimal integer without leading zeros, '-' its only sign, not "-0", within int64.
func IntKey(k string) (int64, bool) {
	digits := strings.TrimPrefix(k, "-")
	if digits == "" || digits[0] < '0' || digits[0] > '9' || digits[0] == '0' && len(k) > 1 {
		return 0, false
	}
	n, err := strconv.ParseInt(k, 10, 64)
	return n, err == nil
}

// AppendJSON appends a as PHP's json_encode($a, JSON_INVALID_UTF8_SUBSTITUTE) writes it: a list
// for keys 0, 1, … in order, an object otherwise, strings escaped as phpjson escapes them; each
// sequence of bytes that is not UTF-8 is U+FFFD as PHP substitutes it. For an array whose
// strings are UTF-8 that is exactly what json_encode($a) writes.
func (a *Array) AppendJSON(dst []byte) []byte {
	list := a.IsList()
	open, end := byte('{'), byte('}')
	if list {
		open, end = '[', ']'
	}
	dst = append(dst, open)
	for i, k := range a.keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		if !list {
			dst = appendString(dst, k)
			dst = append(dst, ':')
		}
		switch v := a.vals[i].(type) {
		case string:
			dst = appendString(dst, v)
		case *Array:
			dst = v.AppendJSON(dst)
		}
	}
	return append(dst, end)
}

// MarshalJSON implements json.Marshaler; see AppendJSON.
func (a *Array) MarshalJSON() ([]byte, error) { return a.AppendJSON(nil), nil }

func appendString(dst []byte, s string) []byte {
	if out, err := phpjson.AppendString(dst, s); err == nil {
		return out
	}
	out, _ := phpjson.AppendString(dst, substitute(s)) // valid UTF-8 now: no error
	return out
}

// substitute returns s with each sequence of bytes that is not UTF-8 replaced by U+FFFD, cut as
// PHP's php_next_utf8_char cuts them (ext/standard/html.c).
func substitute(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		n, ok := nextChar(s[i:])
		if ok {
			b.WriteString(s[i : i+n])
		} else {
			b.WriteString("\uFFFD")
		}
		i += n
	}
	return b.String()
}

// nextChar returns the length of the character s starts with, or of the ill-formed sequence
// that PHP replaces by one U+FFFD, and whether it is a character. A lead byte whose sequence is
// cut short or broken starts an ill-formed sequence that ends before the first byte after it
// that is ASCII or could lead a character, else after as many bytes as the lead announced.
func nextChar(s string) (int, bool) {
	c := s[0]
	var size int
	switch {
	case c < 0x80:
		return 1, true
	case c < 0xc2:
		return 1, false
	case c < 0xe0:
		size = 2
	case c < 0xf0:
		size = 3
	case c < 0xf5:
		size = 4
	default:
		return 1, false
	}
	for k := 1; k < size; k++ {
		if k < len(s) && trail(s[k]) {
			continue
		}
		for k = 1; k < size; k++ { // ill-formed: it ends before a byte that could start a character
			if k >= len(s) || lead(s[k]) {
				return k, false
			}
		}
		return size, false
	}
	r := rune(c) & (0x7f >> size)
	for k := 1; k < size; k++ {
		r = r<<6 | rune(s[k]&0x3f)
	}
	switch {
	case size == 3 && (r < 0x800 || r >= 0xd800 && r <= 0xdfff),
		size == 4 && (r < 0x10000 || r > 0x10ffff):
		return size, false
	}
	return size, true
}

func trail(c byte) bool { return c >= 0x80 && c <= 0xbf }

func lead(c byte) bool { return c < 0x80 || c >= 0xc2 && c <= 0xf4 }
