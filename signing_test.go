package digelao

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/phpjson"
	"github.com/digelao-go/digelao/internal/testkit"
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

// TestSignAllocatesOnlyItsResult: Sign hashes as it encodes, in a buffer on the stack, so that its
// only allocation is the 8-character result at any size of flat parameters.
func TestSignAllocatesOnlyItsResult(t *testing.T) {
	for name, p := range map[string]*Params{
		"1 param":                   params(signParams(1)...),
		"60 params":                 params(signParams(60)...),
		"10,000 Chinese characters": NewParams().Set("remark", chineseText(10000)),
		"long escapes":              NewParams().Set("a", strings.Repeat("\x01/\"", 5000)),
	} {
		allocs := testing.AllocsPerRun(20, func() {
			if _, err := Sign(p); err != nil {
				t.Fatal(err)
			}
		})
		assert.Equal(t, 1.0, allocs, name)
	}
}

// TestSignLongStrings puts characters of every UTF-8 length, escapes and broken sequences at every
// offset around the places where Sign cuts a long string: Sign must hash exactly the bytes that
// MarshalJSON writes, and fail where it fails.
func TestSignLongStrings(t *testing.T) {
	t.Parallel()
	for _, unit := range []string{"a", "/", "\n", "\x01", "é", "测", "😀", "\x80", "\xe6\xb5", "\xf0\x9f\x98", "\xed\xa0\x80"} {
		for lead := range 2*utf8.UTFMax + 1 {
			for _, n := range []int{piece - 1, piece, piece + 1, 3*piece + 1} {
				s := strings.Repeat("x", lead) + strings.Repeat(unit, n/len(unit)+1)
				checkSign(t, NewParams().Set("k", s).Set("tail", "/"+s))
			}
		}
	}
}

// checkSign checks Sign against md5 of MarshalJSON, errors included.
func checkSign(t *testing.T, p *Params) {
	t.Helper()
	want, wantErr := p.MarshalJSON()
	got, err := Sign(p)
	if wantErr != nil {
		require.Error(t, err, "MarshalJSON failed with %v", wantErr)
		return
	}
	require.NoError(t, err)
	sum := md5.Sum(want)
	require.Equal(t, hex.EncodeToString(sum[:])[1:9], got, "%q", want)
}

// TestSignedBodyTakesOneAllocation: a POST body is allocated once, at its size. Append would grow
// a body of many contacts a quarter at a time, allocating about five times its size.
func TestSignedBodyTakesOneAllocation(t *testing.T) {
	rows := make([]*Params, 2000)
	for i := range rows {
		rows[i] = NewParams().Set("姓名", "张三").Set("电话", "1380013"+strconv.Itoa(1000+i)).Set("备注", "VIP/老客户")
	}
	sess := &Session{UserSN: testUserSN, APIKey: NewSecret(testAPIKey)}
	var s bodySigner
	for name, call := range map[string]*Params{
		"a typical call": params(signParams(10)...),
		"contacts": NewParams().Set("source", "回访任务").Set("client_info_json", NewParams().Set("data", rows)).
			Set("ids", []string{"1", "2"}),
	} {
		body, err := s.signedBody(sess, call)
		require.NoError(t, err)
		assert.Equal(t, 1.0, testing.AllocsPerRun(10, func() { _, _ = s.signedBody(sess, call) }), name)
		assert.LessOrEqual(t, cap(body), len(body)+len(body)/8+64, name)
	}
}

// TestMembersSizeIsExactForNestedValues: the room measured for a body with nested values is its
// size to the byte, also when the measuring empties its buffer many times.
func TestMembersSizeIsExactForNestedValues(t *testing.T) {
	t.Parallel()
	rows := make([]any, 300)
	for i := range rows {
		rows[i] = NewParams().Set("name", chineseText(i%7)).Set("n", i).Set("tags", []string{"a/b", strings.Repeat("é", i)})
	}
	for _, p := range []*Params{
		NewParams().Set("list", []string{}),
		NewParams().Set("obj", NewParams().Set("k", "v")).Set("s", "x"),
		NewParams().Set("a", "1").Set("rows", rows).Set("z", true),
	} {
		b, err := p.MarshalJSON()
		require.NoError(t, err)
		assert.Equal(t, len(b), membersSize(p))
	}
}

// TestBodySignerFollowsTheSession: a body signed after the cached prefix of a session is the body
// signed whole, also when sessions change, and the prefix is computed once per session.
func TestBodySignerFollowsTheSession(t *testing.T) {
	t.Parallel()
	a := &Session{UserSN: "SYSUSER|a", APIKey: NewSecret("key-a")}
	b := &Session{UserSN: "SYSUSER|a", APIKey: NewSecret("key-b")}
	call := NewParams().Set("name", "张三/李四").Set("n", 3)
	var s bodySigner
	for _, sess := range []*Session{a, a, b, a} {
		got, err := s.signedBody(sess, call)
		require.NoError(t, err)
		assert.Equal(t, string(plainBody(t, sess, call)), string(got))
	}
	pre := s.latest.Load()
	_, err := s.signedBody(a, call)
	require.NoError(t, err)
	assert.Same(t, pre, s.latest.Load(), "the prefix of an unchanged session is reused")

	_, err = s.signedBody(&Session{UserSN: "bad\xff", APIKey: NewSecret("k")}, call)
	assert.ErrorIs(t, err, phpjson.ErrInvalidUTF8)
}

// TestBodySignerConcurrent signs with two sessions from many goroutines (run with -race).
func TestBodySignerConcurrent(t *testing.T) {
	t.Parallel()
	sessions := []*Session{{UserSN: "u1", APIKey: NewSecret("k1")}, {UserSN: "u2", APIKey: NewSecret("k2")}}
	call := NewParams().Set("remark", chineseText(100))
	want := [][]byte{plainBody(t, sessions[0], call), plainBody(t, sessions[1], call)}
	var s bodySigner
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := (g + i) % 2
				got, err := s.signedBody(sessions[k], call)
				if err != nil || !bytes.Equal(got, want[k]) {
					t.Errorf("session %d: %q, %v", k, got, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// plainBody is the POST body of call for sess signed without a cached prefix, as Client.send
// built it before.
func plainBody(t *testing.T, sess *Session, call *Params) []byte {
	t.Helper()
	all := NewParams().Set("user_sn", sess.UserSN).Set("api_key", sess.APIKey.Value())
	all.keys, all.vals = append(all.keys, call.keys...), append(all.vals, call.vals...)
	body, err := signedBody(all)
	require.NoError(t, err)
	return body
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

// chineseText returns n different CJK characters.
func chineseText(n int) string {
	r := make([]rune, n)
	for i := range r {
		r[i] = rune(0x4e00 + i*7%0x5000)
	}
	return string(r)
}

// FuzzParamsMarshal checks that the encoder writes valid JSON that decodes back to its input, and
// that the GET query decodes back to the same values.
func FuzzParamsMarshal(f *testing.F) {
	for _, s := range []string{"", "a/b", "测试", "😀", "\x00\x1f\x7f", `"\`, "<>&'", "a\u2028b", "\xff"} {
		f.Add("k", s, int64(-5), true)
	}
	f.Fuzz(func(t *testing.T, key, value string, n int64, b bool) {
		p := NewParams().Set("user_sn", "u").Set(key, value).Set("n", n).Set("list", []any{value, b})
		got, err := p.MarshalJSON()
		if !utf8.ValidString(key) || !utf8.ValidString(value) {
			if err == nil {
				t.Fatalf("invalid UTF-8 accepted: %q %q", key, value)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(got) {
			t.Fatalf("invalid JSON %q", got)
		}
		var back map[string]any
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		if key != "n" && key != "list" && key != "user_sn" && back[key] != value {
			t.Fatalf("value %q came back as %q", value, back[key])
		}
		for _, c := range got {
			if c >= utf8.RuneSelf {
				t.Fatalf("non-ASCII byte in %q", got)
			}
		}
		if q, err := signedQuery(NewParams().Set("v", value)); err == nil {
			vals, err := url.ParseQuery(q)
			if err != nil || vals.Get("v") != value {
				t.Fatalf("query %q does not decode to %q", q, value)
			}
		}
	})
}

// FuzzSignStreams pins the streaming signer to the plain one: Sign, which hashes as it encodes and
// escapes long strings piece by piece, and a POST body signed after a session's cached prefix
// must give the bytes and signature of encoding whole (MarshalJSON) and md5.Sum, and fail where
// that fails; and the room measured for a body with nested values is its size.
func FuzzSignStreams(f *testing.F) {
	for _, s := range []string{"", "a/b", "测试", "😀", "\x00\x1f\x7f", `"\`, "\xff", "\xe6\xb5", "\x80\x80\x80\x80", "é😀测/"} {
		f.Add("k", s, uint8(3), uint8(1))
	}
	f.Fuzz(func(t *testing.T, key, value string, reps, lead uint8) {
		long := strings.Repeat("x", int(lead%8)) + strings.Repeat(value, int(reps%64))
		p := NewParams().Set(key, value).Set("long", long).Set("n", int(reps)).
			Set("list", []any{value, long}).Set("obj", NewParams().Set(key, long))
		want, wantErr := p.MarshalJSON()
		sig, err := Sign(p)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("Sign error %v, MarshalJSON error %v", err, wantErr)
		}
		if err != nil {
			return
		}
		if n := membersSize(p); n != len(want) { // p has nested values: measured exactly
			t.Fatalf("measured %d bytes for %d", n, len(want))
		}
		sum := md5.Sum(want)
		if wantSig := hex.EncodeToString(sum[:])[1:9]; sig != wantSig {
			t.Fatalf("Sign %s, md5 of %q %s", sig, want, wantSig)
		}
		body, err := signedBody(p)
		if wantBody := string(want[:len(want)-1]) + `,"url":"` + sig + `"}`; err != nil || string(body) != wantBody {
			t.Fatalf("body %q, %v; want %q", body, err, wantBody)
		}

		sess := &Session{UserSN: value, APIKey: NewSecret(key)}
		all := NewParams().Set("user_sn", sess.UserSN).Set("api_key", sess.APIKey.Value())
		all.keys, all.vals = append(all.keys, p.keys...), append(all.vals, p.vals...)
		wantBody, wantErr := signedBody(all)
		var s bodySigner
		got, err := s.signedBody(sess, p)
		if (err != nil) != (wantErr != nil) || !bytes.Equal(got, wantBody) {
			t.Fatalf("body after the session's prefix %q, %v; want %q, %v", got, err, wantBody, wantErr)
		}
	})
}

// TestPHPAcceptsSignedRequests sends requests signed by the SDK to a server that checks them with
// PHP's own $_GET, json_decode, json_encode and md5 — the platform's real judge.
func TestPHPAcceptsSignedRequests(t *testing.T) {
	t.Parallel()
	base := testkit.ServePHP(t, "testdata/php/judge.php")
	// php -S may close a kept-alive connection as the next request goes out on it, which a POST is
	// not retried for: one connection per request.
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	c, err := New(base, WithAPIKey(testUserSN, testAPIKey), WithHTTPClient(hc))
	require.NoError(t, err)
	ctx := context.Background()

	tricky := "a+b c&d=e#f%g|h/i\\j\"k'<l>😀测试\t\n\x01\x7f"
	cases := map[string]*Params{
		"every vector value": NewParams().Set("remark", tricky),
		"setCallback": NewParams().Set("open_callback", true).
			Set("callback_url", "https://crm.example.com/hooks/call?token=a1b2&x=1"),
		"numbers and bools": NewParams().Set("pageIndex", 0).Set("pageSize", uint16(500)).Set("flag", false),
		"lists and objects": NewParams().Set("ids", []string{"88", "12"}).
			Set("client_info_json", NewParams().Set("data", []*Params{
				NewParams().Set("姓名", "张三").Set("电话", "13800138000").Set("备注", "VIP/老客户"),
				NewParams().Set("姓名", "李四").Set("电话", "13900139000").Set("备注", ""),
			})),
		"chinese key": NewParams().Set("名字", "王五"),
	}
	for _, method := range []string{"POST", "GET"} {
		for name, p := range cases {
			t.Run(method+" "+name, func(t *testing.T) {
				var out struct {
					JSON   string          `json:"json"`
					Params json.RawMessage `json:"params"`
				}
				require.NoError(t, c.Do(ctx, method, "/api/judge", p, &out))
				// PHP saw exactly the values the SDK signed.
				full := NewParams().Set("user_sn", testUserSN).Set("api_key", testAPIKey)
				for i, k := range p.keys {
					full.Set(k, p.vals[i])
				}
				want, err := full.MarshalJSON()
				require.NoError(t, err)
				assert.Equal(t, string(want), out.JSON)
			})
		}
	}

	t.Run("POST multipart upload", func(t *testing.T) {
		content := bytes.Repeat([]byte("PK\x03\x04 xlsx bytes 测试 "), 4096) // about 120 KB
		p := NewParams().Set("project_sn", "projects|4a92").Set("source", "回访/测试").
			Set("upload", &File{Name: "名单.xlsx", Content: bytes.NewReader(content)})
		var out struct {
			JSON  string `json:"json"`
			Files map[string]struct {
				Name  string `json:"name"`
				Size  int    `json:"size"`
				Error int    `json:"error"`
				MD5   string `json:"md5"`
			} `json:"files"`
		}
		require.NoError(t, c.Do(ctx, "POST", "/api/judge", p, &out))
		// PHP signed $_POST — the text fields in order — and received the whole file.
		want, err := NewParams().Set("user_sn", testUserSN).Set("api_key", testAPIKey).
			Set("project_sn", "projects|4a92").Set("source", "回访/测试").MarshalJSON()
		require.NoError(t, err)
		assert.Equal(t, string(want), out.JSON)
		f := out.Files["upload"]
		assert.Equal(t, 0, f.Error)
		assert.Equal(t, "名单.xlsx", f.Name)
		assert.Equal(t, len(content), f.Size)
		assert.Equal(t, fmt.Sprintf("%x", md5.Sum(content)), f.MD5)
	})

	t.Run("the judge refuses a tampered body", func(t *testing.T) {
		body, err := signedBody(NewParams().Set("user_sn", testUserSN).Set("api_key", testAPIKey).Set("a", "1"))
		require.NoError(t, err)
		tampered := strings.Replace(string(body), `"a":"1"`, `"a":"2"`, 1)
		resp, err := http.Post(base+"/api/judge", "application/json", strings.NewReader(tampered))
		require.NoError(t, err)
		defer resp.Body.Close()
		var env struct{ Code int }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&env))
		assert.Equal(t, CodeSignature, env.Code)
	})
}
