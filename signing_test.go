package digelao

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// vector is one line of testdata/signing-vectors.jsonl, produced by PHP 8.2's json_encode and md5.
type vector struct {
	Name  string            `json:"name"`
	Pairs []json.RawMessage `json:"pairs"`
	JSON  string            `json:"json"`
	URL   string            `json:"url"`
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	f, err := os.Open("testdata/signing-vectors.jsonl")
	require.NoError(t, err)
	defer f.Close()
	var out []vector
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var v vector
		require.NoError(t, json.Unmarshal(sc.Bytes(), &v))
		out = append(out, v)
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, out)
	return out
}

// paramsFromPairs builds Params from the vector form: [key, value] pairs, where a value is a
// string, {"pairs": […]} for a nested object, or a list of those.
func paramsFromPairs(t testing.TB, pairs []json.RawMessage) *Params {
	t.Helper()
	p := NewParams()
	for _, raw := range pairs {
		var kv [2]json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &kv))
		var key string
		require.NoError(t, json.Unmarshal(kv[0], &key))
		p.Set(key, vectorValue(t, kv[1]))
	}
	return p
}

func vectorValue(t testing.TB, raw json.RawMessage) any {
	switch strings.TrimSpace(string(raw))[0] {
	case '"':
		var s string
		require.NoError(t, json.Unmarshal(raw, &s))
		return s
	case '[':
		var items []json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &items))
		list := make([]any, len(items))
		for i, it := range items {
			list[i] = vectorValue(t, it)
		}
		return list
	default:
		var obj struct{ Pairs []json.RawMessage }
		require.NoError(t, json.Unmarshal(raw, &obj))
		return paramsFromPairs(t, obj.Pairs)
	}
}

func TestSigningVectors(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			p := paramsFromPairs(t, v.Pairs)
			got, err := p.MarshalJSON()
			require.NoError(t, err)
			assert.Equal(t, v.JSON, string(got))
			sig, err := Sign(p)
			require.NoError(t, err)
			assert.Equal(t, v.URL, sig)
		})
	}
}

func TestMarshalValueKinds(t *testing.T) {
	t.Parallel()
	p := NewParams().
		Set("i", -42).Set("i8", int8(-8)).Set("i16", int16(16)).Set("i32", int32(32)).Set("i64", int64(math.MinInt64)).
		Set("u", uint(7)).Set("u8", uint8(255)).Set("u16", uint16(16)).Set("u32", uint32(32)).Set("u64", uint64(math.MaxUint64)).
		Set("t", true).Set("f", false).
		Set("ss", []string{"a/b", "c"}).
		Set("objs", []*Params{NewParams().Set("k", "v")}).
		Set("mixed", []any{"x", 1, NewParams().Set("n", "m")}).
		Set("del", "\x7f<>&'")
	got, err := p.MarshalJSON()
	require.NoError(t, err)
	assert.Equal(t, `{"i":"-42","i8":"-8","i16":"16","i32":"32","i64":"-9223372036854775808",`+
		`"u":"7","u8":"255","u16":"16","u32":"32","u64":"18446744073709551615","t":"1","f":"0",`+
		`"ss":["a\/b","c"],"objs":[{"k":"v"}],"mixed":["x","1",{"n":"m"}],"del":"`+"\x7f"+`<>&'"}`, string(got))
}

func TestSetKeepsFirstPosition(t *testing.T) {
	t.Parallel()
	p := NewParams().Set("a", "1").Set("b", "2").Set("a", "3")
	got, err := p.MarshalJSON()
	require.NoError(t, err)
	assert.Equal(t, `{"a":"3","b":"2"}`, string(got))
	assert.Equal(t, []string{"a", "b"}, p.Keys())
}

func TestPHPArraySemantics(t *testing.T) {
	t.Parallel()
	// PHP decodes {} and {"0":…,"1":…} to arrays that json_encode writes back as lists.
	p := NewParams().Set("empty", NewParams()).Set("seq", NewParams().Set("0", "a").Set("1", "b")).
		Set("gap", NewParams().Set("1", "a"))
	got, err := p.MarshalJSON()
	require.NoError(t, err)
	assert.Equal(t, `{"empty":[],"seq":["a","b"],"gap":{"1":"a"}}`, string(got))
}

func TestMarshalRejects(t *testing.T) {
	t.Parallel()
	for name, v := range map[string]any{
		"float":        1.5,
		"nil":          nil,
		"map":          map[string]string{"a": "b"},
		"bad utf8":     "a\xffb",
		"nested bad":   []any{NewParams().Set("x", 2.5)},
		"nil params":   (*Params)(nil),
		"struct":       struct{}{},
		"invalid rune": "\xed\xa0\x80", // a lone surrogate encoded in UTF-8
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewParams().Set("v", v).MarshalJSON()
			assert.Error(t, err)
			_, err = Sign(NewParams().Set("v", v))
			assert.Error(t, err)
		})
	}
	_, err := NewParams().Set("k\xff", "v").MarshalJSON()
	assert.Error(t, err, "invalid UTF-8 in a key")
}

func TestSignedBodyIsSignedBytesPlusURL(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t) {
		p := paramsFromPairs(t, v.Pairs)
		body, err := signedBody(p)
		require.NoError(t, err)
		want := strings.TrimSuffix(v.JSON, "}") + `,"url":"` + v.URL + `"}`
		assert.Equal(t, want, string(body), v.Name)
	}
}

func TestSignedQuery(t *testing.T) {
	t.Parallel()
	p := NewParams().Set("user_sn", "SYSUSER|abc").Set("api_key", "k+y").
		Set("callback_url", "http://h/p?a=1&b=2#f").Set("name", "张 三%").
		Set("ids", []string{"1", "2"}).Set("obj", NewParams().Set("姓名", "x"))
	q, err := signedQuery(p)
	require.NoError(t, err)
	sig, err := Sign(p)
	require.NoError(t, err)
	assert.Equal(t, "user_sn=SYSUSER%7Cabc&api_key=k%2By&callback_url=http%3A%2F%2Fh%2Fp%3Fa%3D1%26b%3D2%23f"+
		"&name=%E5%BC%A0%20%E4%B8%89%25&ids[0]=1&ids[1]=2&obj[%E5%A7%93%E5%90%8D]=x&url="+sig, q)
}

func TestSignedQueryRejects(t *testing.T) {
	t.Parallel()
	for name, p := range map[string]*Params{
		"dot key":      NewParams().Set("a.b", "1"),
		"space key":    NewParams().Set("a b", "1"),
		"bracket key":  NewParams().Set("a[", "1"),
		"empty key":    NewParams().Set("", "1"),
		"empty list":   NewParams().Set("a", []string{}),
		"empty object": NewParams().Set("a", NewParams()),
		"no params":    NewParams(),
		"bad utf8":     NewParams().Set("a", "\xff"),
		"nested key":   NewParams().Set("a", NewParams().Set("b]", "1")),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := signedQuery(p)
			assert.Error(t, err)
		})
	}
	many := NewParams()
	list := make([]string, maxQueryVars)
	many.Set("user_sn", "x").Set("list", list)
	_, err := signedQuery(many)
	assert.ErrorContains(t, err, "max_input_vars")
}
