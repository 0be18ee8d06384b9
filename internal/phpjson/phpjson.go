// Package phpjson writes JSON strings byte for byte the way PHP's json_encode does with its default
// flags: "/" becomes "\/", every non-ASCII character becomes a lowercase \uXXXX escape (a UTF-16
// surrogate pair above U+FFFF), and <, >, & and ' stay as they are.
package phpjson

import (
	"errors"
	"unicode/utf8"
)

// ErrInvalidUTF8 is returned for a string that is not valid UTF-8; PHP's json_encode fails on it too.
var ErrInvalidUTF8 = errors.New("string is not valid UTF-8")

const hexDigits = "0123456789abcdef"

// AppendString appends s as a quoted JSON string to dst.
func AppendString(dst []byte, s string) ([]byte, error) {
	dst = append(dst, '"')
	start := 0 // s[start:i] is plain ASCII still to copy
	for i := 0; i < len(s); {
		b := s[i]
		esc := escapes[b]
		if esc == 0 {
			i++
			continue
		}
		if esc != nonASCII {
			dst = append(dst, s[start:i]...)
			if esc == 'u' {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			} else {
				dst = append(dst, '\\', esc)
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return dst, ErrInvalidUTF8
		}
		dst = append(dst, s[start:i]...)
		if r > 0xffff {
			r -= 0x10000
			dst = appendU(dst, 0xd800+(r>>10))
			dst = appendU(dst, 0xdc00+(r&0x3ff))
		} else {
			dst = appendU(dst, r)
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), nil
}

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// nonASCII marks the bytes of multi-byte UTF-8 sequences in escapes.
const nonASCII = 0xff

// escapes maps a byte to the letter of its short escape, 'u' for a \u00XX escape, nonASCII for
// a byte of a multi-byte character, or 0 when the byte is written as it is: one lookup a byte.
var escapes = func() (t [256]byte) {
	for c := range 0x20 {
		t[c] = 'u'
	}
	for c := utf8.RuneSelf; c < 256; c++ {
		t[c] = nonASCII
	}
	t['\b'], t['\f'], t['\n'], t['\r'], t['\t'] = 'b', 'f', 'n', 'r', 't'
	t['"'], t['\\'], t['/'] = '"', '\\', '/'
	return t
}()
