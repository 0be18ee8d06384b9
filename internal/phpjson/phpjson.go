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

// hexDigits are the lowercase hex digits PHP writes in \uXXXX escapes.
const hexDigits = "0123456789abcdef"

// AppendString appends s as a quoted JSON string to dst.
func AppendString(dst []byte, s string) ([]byte, error) {
	dst, err := AppendEscaped(append(dst, '"'), s)
	return append(dst, '"'), err
}

// AppendEscaped appends s escaped, without quotes. Escaping the pieces of s one by one, each cut
// before a rune starts, writes what escaping s whole writes.
func AppendEscaped(dst []byte, s string) ([]byte, error) {
	start := 0 // s[start:i] is plain ASCII still to copy
	for i := 0; i < len(s); {
		switch {
		case i+8 <= len(s): // 8 bytes at once
			m := special(load8(s[i : i+8]))
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) / 8 // the first byte to escape
		case len(s) >= 8 && i < len(s): // the last 1 to 7 bytes: the 8 that end s, the earlier ones clean
			m := special(load8(s[len(s)-8:])) >> (8 * (i + 8 - len(s)))
			if m == 0 {
				i = len(s)
				continue
			}
			i += bits.TrailingZeros64(m) / 8
		case i == 0 && len(s) >= 4: // 4 to 7 bytes: two overlapping 4-byte words
			if special(load4(s[:4])|load4(s[len(s)-4:])<<32) == 0 {
				i = len(s)
				continue
			}
		}
		b := s[i]
		esc := escapes[b]
		if esc == 0 {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch esc {
		case 'u':
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			i++
		case nonASCII:
			// Runs of 3-byte characters (U+0800–U+FFFF but the surrogates: most Chinese text) are
			// decoded here; anything else as unicode/utf8 decodes it.
			for i+2 < len(s) && s[i]&0xf0 == 0xe0 && s[i+1]&0xc0 == 0x80 && s[i+2]&0xc0 == 0x80 {
				r := rune(s[i]&0x0f)<<12 | rune(s[i+1]&0x3f)<<6 | rune(s[i+2]&0x3f)
				if r < 0x800 || r >= 0xd800 && r < 0xe000 {
					return dst, ErrInvalidUTF8
				}
				dst = appendU(dst, r)
				i += 3
			}
			if i == len(s) || s[i] < utf8.RuneSelf {
				break
			}
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
		default:
			dst = append(dst, '\\', esc)
			i++
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
