package transport

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The echoes the issue reported, and each escape chosen for one character but not its neighbour.
func TestRedactStringChoosesEachEscapeIndependently(t *testing.T) {
	t.Parallel()
	for secret, texts := range map[string][]string{
		"密码/Ab1x": {
			`"password":"密码\/Ab1x"`,                              // JSON_UNESCAPED_UNICODE (ThinkPHP's default)
			`"password":"\u5bc6\u7801/Ab1x"`,                     // JSON_UNESCAPED_SLASHES
			`"password":"\u5BC6\u7801\/Ab1x"`,                    // upper-case hex
			`"password":"\u5bc6码/Ab1x"`,                          // one character escaped, the next not
			`"body":"{\"password\":\"\\u5bc6\\u7801\\\/Ab1x\"}"`, // the body inside a JSON string
			"q=%E5%AF%86%E7%A0%81%2FAb1x",
			"q=%e5%af%86%e7%a0%81%2fAb1x",
		},
		`pa"ss<wörd>`: {
			`"pa\u0022ss<w\u00f6rd>"`,                 // JSON_HEX_QUOT
			`"pa\"ss\u003Cw\u00f6rd\u003E"`,           // JSON_HEX_TAG
			`"pa\u0022ss\u003Cwörd\u003E"`,            // both, JSON_UNESCAPED_UNICODE
			`<pre>pa\&quot;ss&lt;w\u00f6rd&gt;</pre>`, // HTML-escaped JSON
			`{"msg":"pa&quot;ss&lt;wörd&gt;"}`,        // an HTML-escaped value in a JSON msg
			`{"msg":"pa\u0026quot;ss\u0026lt;wörd\u0026gt;"}`,
		},
		"x😀'&y": {
			`x\ud83d\ude00\u0027\u0026y`, // JSON_HEX_APOS|JSON_HEX_AMP
			`x😀'&y`,
			`x😀\'&y`, // var_export, addslashes
			`x\uD83D\uDE00&#039;&amp;y`,
			"x%F0%9F%98%80%27%26y",
		},
		`back\slash`:  {`"back\\slash"`, `"back\\\\slash"`, "back%5Cslash"},
		"tab\there é": {`tab\there \u00e9`, `tab\u0009here é`, "tab%09here+%C3%A9", "tab%09here%20%C3%A9"},
	} {
		for _, text := range texts {
			got := RedactString(text, []string{secret})
			assert.Contains(t, got, "[REDACTED]", "%q in %s", secret, text)
			for _, part := range []string{"Ab1x", "ss", "y", "slash", "here"} {
				if strings.Contains(secret, part) {
					assert.NotContains(t, got, part, "%q in %s: %s", secret, text, got)
				}
			}
		}
	}
	// What surrounds a secret stays; what only looks like part of one stays.
	assert.Equal(t, `{"u":"demo","p":"[REDACTED]","n":"\u5bc6"}`,
		RedactString(`{"u":"demo","p":"\u5bc6\u7801\/Ab1x","n":"\u5bc6"}`, []string{"密码/Ab1x"}))
	assert.Equal(t, `a\/b`, RedactString(`a\/b`, []string{"a/c"}))
	assert.Equal(t, `x A y`, RedactString(`x A y`, []string{"a"}), "letters match in their own case only")
}

// A text made to be slow to search is redacted whole from where the search gave up: nothing of it
// is shown unsearched.
func TestRedactStringFailsClosedOnTextMadeToBeSlow(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat(`"`, 16) + "x"
	s := "HTTP 500: " + strings.Repeat(`\u0026quot;`, 2000) // quotes, and never the x
	got := RedactString(s, []string{secret})
	assert.True(t, strings.HasPrefix(got, "HTTP 500: "), got)
	assert.True(t, strings.HasSuffix(got, "[REDACTED]"), got)
	assert.Less(t, len(got), len(s), "gave up before the end")
	// Ordinary text of the same length is searched to its end.
	s = "HTTP 500: " + strings.Repeat(`{"msg":"\u5bc6 &quot;"}`, 1100)
	assert.Equal(t, s, RedactString(s, []string{secret}))
}

// refPattern is the regular expression for the character ch at layer and beyond, written directly
// from encodings: the reference the matcher is checked against.
func refPattern(layer int, ch string, fold bool) string {
	if layer == len(layers) {
		if fold && isLetter(ch) {
			return "[" + strings.ToLower(ch) + strings.ToUpper(ch) + "]"
		}
		return regexp.QuoteMeta(ch)
	}
	alts := []string{refPattern(layer+1, ch, fold)}
	for _, e := range encodings(layers[layer], ch) {
		var b strings.Builder
		for _, r := range e.text {
			b.WriteString(refPattern(layer+1, string(r), e.fold))
		}
		alts = append(alts, b.String())
	}
	return "(?:" + strings.Join(alts, "|") + ")"
}

// refRedact is RedactString for one secret by a regular expression: the leftmost, then longest,
// match replaced, again and again.
func refRedact(t testing.TB, s, secret string) string {
	var b strings.Builder
	for _, r := range secret {
		b.WriteString(refPattern(0, string(r), false))
	}
	re, err := regexp.Compile(b.String())
	require.NoError(t, err)
	re.Longest()
	return re.ReplaceAllLiteralString(s, "[REDACTED]")
}

// encode writes secret through every layer, choosing for each character at each layer as rnd says.
func encode(rnd *rand.Rand, layer int, s string, fold bool) string {
	if layer == len(layers) {
		if fold && rnd.IntN(2) == 0 {
			return strings.ToUpper(s)
		}
		return s
	}
	var b strings.Builder
	for _, r := range s {
		ch := string(r)
		encs := encodings(layers[layer], ch)
		if k := rnd.IntN(len(encs) + 2); k < len(encs) { // as it is at least half the time
			b.WriteString(encode(rnd, layer+1, encs[k].text, encs[k].fold))
		} else {
			b.WriteString(encode(rnd, layer+1, ch, fold))
		}
	}
	return b.String()
}

// FuzzRedactString checks the matcher against the regular expression built from the same table of
// encodings, on text holding the secret in a randomly chosen mix of encodings.
func FuzzRedactString(f *testing.F) {
	f.Add("密码/Ab1x", `{"p":"`, `"}`, uint64(1))
	f.Add(`pa"ss<wörd>`, "<pre>", "&quot;", uint64(2))
	f.Add("x😀'&y", `\`, `\u`, uint64(3))
	f.Add("a&b", "&amp;", "&amp;amp;b", uint64(4))
	f.Add(" +%", "%20", "++", uint64(5))
	f.Add(`\\`, `\\\\`, `\`, uint64(6))
	f.Fuzz(func(t *testing.T, secret, pre, post string, seed uint64) {
		if secret == "" || utf8.RuneCountInString(secret) > 12 || len(pre)+len(post) > 200 ||
			!utf8.ValidString(secret) || !utf8.ValidString(pre) || !utf8.ValidString(post) {
			t.Skip()
		}
		rnd := rand.New(rand.NewPCG(seed, seed>>32))
		enc := encode(rnd, 0, secret, false)
		for _, s := range []string{pre + post, pre + enc + post, enc + pre + enc} {
			got := RedactString(s, []string{secret})
			require.Equal(t, refRedact(t, s, secret), got, "secret %q in %q", secret, s)
			if strings.Contains(s, enc) {
				require.NotEqual(t, s, got, "secret %q written %q", secret, enc)
			}
		}
	})
}

// BenchmarkRedactString: an error excerpt's whole window (64 KiB of a JSON reply echoing Chinese
// text, escapes and all) searched for five secrets, as an error quoting a reply is.
func BenchmarkRedactString(b *testing.B) {
	chunk := `{"code":500,"msg":"\u7cfb\u7edf\u7e41\u5fd9","data":{"url":"https:\/\/crm.example.com\/a?b=1&c=2","remark":"回访/老客户 <b>VIP</b>"}},`
	s := strings.Repeat(chunk, 64<<10/len(chunk))
	secrets := []string{"5ig5ig5i", "MUOm4NH1", "密码/Ab1x", `pa"ss<wörd>`, "tok-9f8e7d6c5b4a"}
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if RedactString(s, secrets) != s {
			b.Fatal("redacted what is no secret")
		}
	}
}
