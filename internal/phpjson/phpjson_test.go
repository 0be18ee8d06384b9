package phpjson

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAppendString(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":             `""`,
		"a/b":          `"a\/b"`,
		"é":            `"\u00e9"`,
		"😀":            `"\ud83d\ude00"`,
		"\b\f\n\r\t":   `"\b\f\n\r\t"`,
		"\x00\x1f\x7f": "\"\\u0000\\u001f\x7f\"",
		`"\`:           `"\"\\"`,
		"<>&'":         `"<>&'"`,
		"\u2028\uffff": `"\u2028\uffff"`,
	} {
		got, err := AppendString(nil, in)
		require.NoError(t, err, in)
		assert.Equal(t, want, string(got), in)
	}
	_, err := AppendString(nil, "ok\xc3")
	assert.ErrorIs(t, err, ErrInvalidUTF8)
}

// TestAppendStringEveryBytePosition puts every byte value at every position of strings of every
// length up to past three 8-byte words, so that no byte needing an escape is skipped as plain by
// the short, word-at-a-time or overlapping-last-word checks.
func TestAppendStringEveryBytePosition(t *testing.T) {
	t.Parallel()
	const base = "abcdefghijklmnopqrstuvwxyz"
	for n := 1; n <= len(base); n++ {
		for c := range 256 {
			for pos := range n {
				in := base[:pos] + string([]byte{byte(c)}) + base[pos+1:n]
				checkAppendString(t, in)
			}
		}
	}
	for _, in := range []string{"", "回访任务 2024/08/01 \"quoted\" \\ tab\there", "😀 long ascii run 01234567 é"} {
		checkAppendString(t, in)
	}
}

// TestAppendStringThreeByteSequences checks every lead byte of a 3-byte sequence with every
// second byte and every third byte, whole and cut short, against unicode/utf8: surrogates and
// overlong forms are refused as utf8 refuses them.
func TestAppendStringThreeByteSequences(t *testing.T) {
	t.Parallel()
	for b0 := 0xe0; b0 <= 0xef; b0++ {
		for b1 := range 256 {
			checkAppendString(t, string([]byte{'a', byte(b0), byte(b1)}))
			for b2 := range 256 {
				checkAppendString(t, string([]byte{byte(b0), byte(b1), byte(b2), 'z'}))
			}
		}
	}
}

// FuzzAppendString pins AppendString, which skips plain text 8 or 4 bytes at a time and decodes
// runs of 3-byte characters itself, to the plain rune-by-rune reference; and escaping s in two
// pieces cut before a rune starts must write what escaping it whole writes.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "abc", "abcdefgh/", "a/b", "测试测试", "😀", "\x00\x1f\x7f", `"\`, "<>&'",
		"\xff", "ok\xe6\xb5", "\xed\xa0\x80", "\xe0\x80\x80", "\u2028\uffff", "long plain ascii text 0123456789"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, at int) {
		checkAppendString(t, s)
		if at < 0 || at > len(s) || at < len(s) && !utf8.RuneStart(s[at]) {
			return
		}
		whole, errWhole := AppendEscaped(nil, s)
		first, err1 := AppendEscaped(nil, s[:at])
		both, err2 := AppendEscaped(first, s[at:])
		if (errWhole != nil) != (err1 != nil || err2 != nil) {
			t.Fatalf("%q cut at %d: error %v whole, %v and %v in pieces", s, at, errWhole, err1, err2)
		}
		if errWhole == nil && string(both) != string(whole) {
			t.Fatalf("%q cut at %d: %q in pieces, %q whole", s, at, both, whole)
		}
	})
}

func checkAppendString(t *testing.T, in string) {
	t.Helper()
	got, err := AppendString(nil, in)
	want, bad := reference(in)
	if bad {
		require.ErrorIs(t, err, ErrInvalidUTF8, "%q", in)
		return
	}
	require.NoError(t, err, "%q", in)
	require.Equal(t, want, string(got), "%q", in)
}

// reference encodes s rune by rune as PHP's json_encode does; bad is true for invalid UTF-8.
func reference(s string) (out string, bad bool) {
	if !utf8.ValidString(s) {
		return "", true
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '/':
			b.WriteString(`\` + string(r))
		case r == '\b', r == '\f', r == '\n', r == '\r', r == '\t':
			b.WriteString(strings.NewReplacer("\b", `\b`, "\f", `\f`, "\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(string(r)))
		case r < 0x20 || r >= utf8.RuneSelf:
			for _, u := range utf16.Encode([]rune{r}) {
				fmt.Fprintf(&b, `\u%04x`, u)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String(), false
}
