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

// HexDigits are the lowercase hex digits PHP writes in \uXXXX escapes and md5 sums.
const HexDigits = "0123456789abcdef"

// AppendString appends s as a quoted JSON string to dst.
func AppendString(dst []byte, s string) ([]byte, error) {
	dst = append(dst, '"')
	// Find how much of s needs no escape, 8 bytes at a time (4 below 8 bytes), the last word
	// overlapping the one before so that no byte is looked at alone unless s is under 4 bytes.
	n, i := len(s), 0 // s[:i] needs no escape
	switch {
	case n >= 8:
		for i+8 <= n && special(load8(s[i:i+8])) == 0 {
			i += 8
		}
		if i < n && i+8 > n && special(load8(s[n-8:n])) == 0 {
			i = n
		}
	case n >= 4:
		if special(load4(s[:4])|load4(s[n-4:n])<<32) == 0 {
			i = n
		}
	default:
		for i < n && escapes[s[i]] == 0 {
			i++
		}
	}
	if i < n {
		var err error
		if dst, err = appendEscaped(append(dst, s[:i]...), s[i:]); err != nil {
			return dst, err
		}
	} else {
		dst = append(dst, s...)
	}
	return append(dst, '"'), nil
}

// appendEscaped appends s escaped, without quotes.
func appendEscaped(dst []byte, s string) ([]byte, error) {
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
		if start < i {
			dst = append(dst, s[start:i]...)
		}
		switch {
		case esc == 'u':
			dst = append(dst, '\\', 'u', '0', '0', HexDigits[b>>4], HexDigits[b&0xf])
			i++
		case esc != nonASCII:
			dst = append(dst, '\\', esc)
			i++
		case b >= 0xe0 && b < 0xf0 && i+2 < len(s): // 3 bytes: U+0800–U+FFFF, most CJK text
			c1, c2 := s[i+1], s[i+2]
			lo, hi := byte(0x80), byte(0xbf)
			switch b {
			case 0xe0:
				lo = 0xa0 // shorter forms are overlong
			case 0xed:
				hi = 0x9f // U+D800–U+DFFF are surrogates
			}
			if c1 < lo || c1 > hi || c2&0xc0 != 0x80 {
				return dst, ErrInvalidUTF8
			}
			dst = appendU(dst, rune(b&0x0f)<<12|rune(c1&0x3f)<<6|rune(c2&0x3f))
			i += 3
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return dst, ErrInvalidUTF8
			}
			if r > 0xffff {
				r -= 0x10000
				dst = appendU(dst, 0xd800+(r>>10))
				dst = appendU(dst, 0xdc00+(r&0x3ff))
			} else {
				dst = appendU(dst, r)
			}
			i += size
		}
		start = i
	}
	return append(dst, s[start:]...), nil
}

// special flags, in the high bit of its byte, the first of the 8 bytes of x (little-endian) that
// needs escaping — a control character, a byte of a multi-byte character, '"', '\\' or '/' —
// testing all 8 at once; 0 when there is none. Bytes after the first may be flagged wrongly (a
// borrow carries upward), so only the lowest flag counts.
//
// A byte of x at or above 0x80 flags itself. For an ASCII byte y with no borrow from below, y-n
// sets the high bit exactly when y < n, and only then borrows from the byte above; so the three
// differences flag an ASCII byte below 0x20 or '"' (x^2 maps '"' to 0x20 and keeps the control
// characters below it), '\\' or '/'.
func special(x uint64) uint64 {
	return (x | (x ^ ones*2 - ones*0x21) | (x ^ ones*'\\' - ones) | (x ^ ones*'/' - ones)) & highs
}

// load4 returns the 4 bytes of s as a little-endian word: one load.
func load4(s string) uint64 {
	_ = s[3]
	return uint64(uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24)
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

func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', HexDigits[r>>12&0xf], HexDigits[r>>8&0xf], HexDigits[r>>4&0xf], HexDigits[r&0xf])
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
