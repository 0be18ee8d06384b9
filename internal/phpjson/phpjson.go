// Package phpjson writes JSON strings byte for byte the way PHP's json_encode does with its default
// flags: "/" becomes "\/", every non-ASCII character becomes a lowercase \uXXXX escape (a UTF-16
// surrogate pair above U+FFFF), and <, >, & and ' stay as they are.
package phpjson

import (
	"errors"
	"math/bits"
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
		if i+8 <= len(s) {
			m := special(load8(s[i : i+8]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) / 8 // the first byte to escape
		}
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

// special flags, in the high bit of its byte, the first of the 8 bytes of x (little-endian) that
// needs escaping — a control character, a byte of a multi-byte character, '"', '\\' or '/' —
// testing all 8 at once; 0 when there is none. Bytes after the first may be flagged wrongly (a
// borrow carries upward), so only the lowest flag counts.
func special(x uint64) uint64 {
	return (x | below(x, 0x20) | below(x^ones*'"', 1) | below(x^ones*'\\', 1) | below(x^ones*'/', 1)) & highs
}

// load8 returns the 8 bytes of s as a little-endian word: one load.
func load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// below sets the high bit of the first byte of x that is below n (n <= 0x80), and maybe of bytes
// after it, never of one before it.
func below(x uint64, n byte) uint64 { return (x - ones*uint64(n)) &^ x }

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
