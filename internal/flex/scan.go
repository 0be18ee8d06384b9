package flex

import (
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// The scanner reads JSON in one pass, validating what it reads. Strings keep their bytes as
// received: an invalid UTF-8 byte stays that byte (encoding/json would turn it into U+FFFD), so
// two different values never decode to the same text.

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

// SyntaxError is malformed JSON at an offset.
type SyntaxError struct {
	Offset int
	msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.Offset, e.msg)
}

func syntaxErr(i int, format string, args ...any) error {
	return &SyntaxError{Offset: i, msg: fmt.Sprintf(format, args...)}
}

var errEnd = errors.New("unexpected end of JSON")

// ws returns the index of the first byte at or after i that is not JSON white space.
func ws(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skip validates the JSON value starting at b[i] (no leading white space) and returns the index
// just past it.
func skip(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return i, syntaxErr(i, "%v", errEnd)
	}
	switch c := b[i]; {
	case c == '"':
		_, end, _, err := scanString(b, i)
		return end, err
	case c == '{':
		return skipObject(b, i, depth+1)
	case c == '[':
		return skipArray(b, i, depth+1)
	case c == '-' || c >= '0' && c <= '9':
		return scanNumber(b, i)
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	default:
		return i, syntaxErr(i, "unexpected %q", c)
	}
}

func literal(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, syntaxErr(i, "expected %s", lit)
	}
	return i + len(lit), nil
}

func skipObject(b []byte, i, depth int) (int, error) {
	return members(b, i, depth, func(_, _ int, _ bool, v int) (int, error) { return skip(b, v, depth) })
}

func skipArray(b []byte, i, depth int) (int, error) {
	return elements(b, i, depth, func(v int) (int, error) { return skip(b, v, depth) })
}

// members walks the object at b[i] (which must be '{'), calling fn with each member's name — the
// span of the string's content (keyStart, keyEnd) and whether it holds escapes — and the index of
// its value; fn returns the index past the value. members returns the index past the object.
func members(b []byte, i, depth int, fn func(keyStart, keyEnd int, escaped bool, value int) (int, error)) (int, error) {
	if depth > maxDepth {
		return i, syntaxErr(i, "nested too deep")
	}
	if i >= len(b) || b[i] != '{' {
		return i, syntaxErr(i, "expected {")
	}
	j := ws(b, i+1)
	if j < len(b) && b[j] == '}' {
		return j + 1, nil
	}
	for {
		if j >= len(b) || b[j] != '"' {
			return i, syntaxErr(j, "expected a member name")
		}
		ks, ke, escaped, err := scanString(b, j)
		if err != nil {
			return i, err
		}
		j = ws(b, ke)
		if j >= len(b) || b[j] != ':' {
			return i, syntaxErr(j, "expected :")
		}
		end, err := fn(ks+1, ke-1, escaped, ws(b, j+1))
		if err != nil {
			return i, err
		}
		j = ws(b, end)
		if j < len(b) && b[j] == ',' {
			j = ws(b, j+1)
			continue
		}
		if j < len(b) && b[j] == '}' {
			return j + 1, nil
		}
		return i, syntaxErr(j, "expected , or }")
	}
}

// elements walks the array at b[i] (which must be '['), calling fn with the index of each
// element; fn returns the index past it. elements returns the index past the closing bracket.
func elements(b []byte, i, depth int, fn func(value int) (int, error)) (int, error) {
	if depth > maxDepth {
		return i, syntaxErr(i, "nested too deep")
	}
	if i >= len(b) || b[i] != '[' {
		return i, syntaxErr(i, "expected [")
	}
	j := ws(b, i+1)
	if j < len(b) && b[j] == ']' {
		return j + 1, nil
	}
	for {
		end, err := fn(j)
		if err != nil {
			return i, err
		}
		j = ws(b, end)
		if j < len(b) && b[j] == ',' {
			j = ws(b, j+1)
			continue
		}
		if j < len(b) && b[j] == ']' {
			return j + 1, nil
		}
		return i, syntaxErr(j, "expected , or ]")
	}
}

// scanString validates the string at b[i] (which must be '"') and returns its span including
// the quotes (start, end) and whether it holds escapes. Bytes that are not valid UTF-8 are
// accepted, as encoding/json accepts them.
func scanString(b []byte, i int) (start, end int, escaped bool, err error) {
	j := i + 1
	for j < len(b) {
		switch c := b[j]; {
		case c == '"':
			return i, j + 1, escaped, nil
		case c == '\\':
			escaped = true
			if j+1 >= len(b) {
				return i, j, escaped, syntaxErr(j, "%v", errEnd)
			}
			switch b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(b) || !isHex4(b[j+2:j+6]) {
					return i, j, escaped, syntaxErr(j, "invalid \\u escape")
				}
				j += 6
			default:
				return i, j, escaped, syntaxErr(j, "invalid escape \\%c", b[j+1])
			}
		case c < 0x20:
			return i, j, escaped, syntaxErr(j, "control character in string")
		default:
			j++
		}
	}
	return i, j, escaped, syntaxErr(j, "%v", errEnd)
}

func isHex4(h []byte) bool {
	for _, c := range h {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}

// scanNumber validates the number at b[i] and returns the index past it.
func scanNumber(b []byte, i int) (int, error) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && b[j] >= '1' && b[j] <= '9':
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
	default:
		return i, syntaxErr(j, "invalid number")
	}
	if j < len(b) && b[j] == '.' {
		j++
		k := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == k {
			return i, syntaxErr(j, "invalid number")
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		k := j
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == k {
			return i, syntaxErr(j, "invalid number")
		}
	}
	return j, nil
}

// unescape appends the content of a string holding escapes (the bytes between its quotes) to dst,
// resolved as encoding/json resolves them, except that bytes that are not valid UTF-8 are kept.
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		switch e := s[i+1]; e {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(s[i+2 : i+6])
			i += 6
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if d := utf16.DecodeRune(r, hex4(s[i+2:i+6])); d != utf8.RuneError {
						r2 = d
						i += 6
					}
				}
				r = r2
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // " \ /
			dst = append(dst, e)
		}
		i += 2
	}
	return dst
}

// hex4 reads four hex digits, validated by scanString.
func hex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// Members calls fn with the name and the value of each member of the JSON object b, in order,
// validating b as it goes: a name with escapes is given unescaped, a value as its bytes. It stops
// at fn's first error, and fails on anything that is not one JSON object.
func Members(b []byte, fn func(name string, value []byte) error) error {
	i := ws(b, 0)
	var scratch []byte
	end, err := members(b, i, 0, func(ks, ke int, escaped bool, vi int) (int, error) {
		end, err := skip(b, vi, 1)
		if err != nil {
			return end, err
		}
		name := b[ks:ke]
		if escaped {
			scratch = unescape(scratch[:0], name)
			name = scratch
		}
		return end, fn(string(name), b[vi:end])
	})
	if err != nil {
		return err
	}
	if j := ws(b, end); j != len(b) {
		return syntaxErr(j, "data after the value")
	}
	return nil
}
