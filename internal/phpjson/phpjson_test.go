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

// TestAppendStringEveryBytePosition puts every byte value at every position of strings longer
// than the 8-byte fast path, so a byte needing an escape is never skipped as plain.
func TestAppendStringEveryBytePosition(t *testing.T) {
	t.Parallel()
	const base = "abcdefghijklmnopqrstuvw"
	for c := range 256 {
		for pos := range len(base) {
			in := base[:pos] + string([]byte{byte(c)}) + base[pos+1:]
			got, err := AppendString(nil, in)
			want, wantErr := reference(in)
			if wantErr {
				require.ErrorIs(t, err, ErrInvalidUTF8, "%q", in)
				continue
			}
			require.NoError(t, err, "%q", in)
			require.Equal(t, want, string(got), "%q", in)
		}
	}
	for _, in := range []string{"回访任务 2024/08/01 \"quoted\" \\ tab\there", "😀 long ascii run 01234567 é"} {
		got, err := AppendString(nil, in)
		require.NoError(t, err)
		want, _ := reference(in)
		assert.Equal(t, want, string(got))
	}
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
