package digelao

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/flex"
	"github.com/digelao-go/digelao/internal/pushsample"
)

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

// FuzzParseEnvelope feeds arbitrary replies to the envelope check and to parseEnvelopeReference,
// its plain form on encoding/json: they must agree on every reply — the data returned, or the
// error's code and status — and an error must hold no secret and no more than a bounded excerpt.
func FuzzParseEnvelope(f *testing.F) {
	for _, s := range []string{`{"code":0,"data":[]}`, `{"code":"20006"}`, `{"rst":"200"}`, `<html>`, ``,
		`{"code":1e999}`, `{"code":null,"msg":{"a":1}}`, `{"total":1,"datas":[]}`, `{"code":0,"code":1}`,
		`{"\u0063ode":0,"data":{"a":1}}`, `{"Code":0}`, `{"code":0,"data":1} x`} {
		f.Add(200, []byte(s), false)
		f.Add(200, []byte(s), true)
	}
	f.Fuzz(func(t *testing.T, status int, body []byte, codeless bool) {
		ep := endpoint{}
		if codeless { // as 8.1's reply, which carries its result in datas and no code
			ep.codeless = "datas"
		}
		data, apiErr := parseEnvelope(ep, status, body, []string{"SECRETKEY"})
		wantData, wantErr := parseEnvelopeReference(ep, status, body)
		if (apiErr == nil) != (wantErr == nil) {
			t.Fatalf("%q (status %d): error %v, reference %v", body, status, apiErr, wantErr)
		}
		if apiErr == nil {
			if string(data) != string(wantData) {
				t.Fatalf("%q: data %q, reference %q", body, data, wantData)
			}
			return
		}
		if apiErr.Code != wantErr.Code || apiErr.HTTPStatus != wantErr.HTTPStatus {
			t.Fatalf("%q: %+v, reference %+v", body, apiErr, wantErr)
		}
		if len(apiErr.Body) > maxExcerpt {
			t.Fatalf("excerpt of %d bytes", len(apiErr.Body))
		}
		if strings.Contains(apiErr.Error(), "SECRETKEY") {
			t.Fatalf("secret in %q", apiErr.Error())
		}
	})
}

// parseEnvelopeReference is the envelope check in its plain form: encoding/json decodes the reply
// into a map of its members (exact names, the last of a repeated one winning).
func parseEnvelopeReference(ep endpoint, status int, body []byte) (json.RawMessage, *APIError) {
	var members map[string]json.RawMessage
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &members) != nil {
		return nil, &APIError{HTTPStatus: status}
	}
	raw, named := members["code"]
	if !named {
		raw, named = members["rst"]
	}
	code, ok := parseCode(raw)
	_, result := members[ep.codeless]
	switch {
	case named && !ok:
		return nil, &APIError{HTTPStatus: status}
	case !named && status < 300 && ep.codeless != "" && result:
		return members["data"], nil
	case !named && status < 300:
		return nil, &APIError{HTTPStatus: status}
	case !named || code == CodeOK || code == 200:
		if status < 300 {
			return members["data"], nil
		}
		return nil, &APIError{HTTPStatus: status}
	}
	return nil, &APIError{HTTPStatus: status, Code: code}
}

// countMembers is overMembers' reference: the members and elements of the JSON b at every depth,
// counted from encoding/json's tokens.
func countMembers(t *testing.T, b []byte) int {
	dec := json.NewDecoder(bytes.NewReader(b))
	var inObject []bool // per open container
	key := false        // the next token in an object is a member's name
	n := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return n
		}
		if err != nil {
			t.Fatalf("%v in %q", err, b)
		}
		d, isDelim := tok.(json.Delim)
		if isDelim && (d == '}' || d == ']') {
			inObject = inObject[:len(inObject)-1]
			key = len(inObject) > 0 && inObject[len(inObject)-1]
			continue
		}
		if len(inObject) > 0 && (!inObject[len(inObject)-1] || key) {
			n++ // a member's name, or an array's element
		}
		if len(inObject) > 0 && inObject[len(inObject)-1] {
			key = !key
		}
		if isDelim {
			inObject = append(inObject, d == '{')
			key = d == '{'
		}
	}
}

// FuzzPushDecode feeds arbitrary bodies and content types to the push decoder PushHandler uses: it
// must never panic; every event's Raw is the body as received (a JSON object without the white
// space around it, or else the whole body), JSON when it starts with '{' and the body is UTF-8; a
// call record's key is of fixed size and made of its SN, which is bounded; the JSON object built
// from a form stays within a constant factor of the body, which the handler bounds by
// MaxBodyBytes; and overMembers agrees with countMembers, its reference.
func FuzzPushDecode(f *testing.F) {
	f.Add("application/json", pushsample.CallRecord("account|1", "13800138000"))
	f.Add("application/json", importPush("t", "", ImportCounts{Total: 1}))
	f.Add("", pushsample.TaskAnalytics("t"))
	f.Add("application/x-www-form-urlencoded", []byte("sn=account%7C1&phone=1&talktimes=3&m%5Ba%5D%5B%5D=1"))
	f.Add("application/x-www-form-urlencoded; charset=gbk", []byte("sn=account%7C1&name=%D5%C5%C8%FD"))
	f.Add("application/x-www-form-urlencoded", []byte("data=%7B%22sn%22%3A%22s%22%7D"))
	f.Add("application/x-www-form-urlencoded", []byte("sn=a&a[x][]=1&a[x][y]=2&b.c=3&&a[=4"))
	f.Add("", []byte(`{"sn":"a","x":[1,{"y":"a,{["]"},[]],"z":{}}`))
	f.Add("application/json; charset=gb18030", []byte("{\"sn\":\"a\",\"name\":\"\xd5\xc5\x95\x32\x82\x36\"}"))
	f.Add("multipart/form-data; boundary=X", []byte("--X\r\nContent-Disposition: form-data; name=\"sn\"\r\n\r\ns\r\n--X--\r\n"))
	for _, s := range []string{`[]`, `"x"`, `{"import_mark":"x","dial_task_main_sn":1}`, `{"dial_task_main_data":{}}`, "%zz",
		"\xef\xbb\xbf{}", "{\"sn\":\"a|\xff\"}", `{"sn":"\ud83d\ude00\u00e9","SN":"b"}`, `{"sn":"\ud800","id":1}`} {
		f.Add("", []byte(s))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		cs, _ := requestCharset(charsetAuto, contentType)
		pb, err := pushObject(contentType, cs, body, 0)
		if err == nil && pb != nil && len(pb.obj) > 6*len(body)+8 {
			t.Fatalf("%d bytes of JSON from a body of %d", len(pb.obj), len(body))
		}
		if err == nil && pb != nil && json.Valid(pb.obj) {
			n := countMembers(t, pb.obj)
			for _, limit := range []int{max(n-1, 0), n} {
				if overMembers(pb.obj, limit) != (n > limit) {
					t.Fatalf("overMembers(%q, %d) for %d members", pb.obj, limit, n)
				}
			}
		}
		ev, err := decodePush(contentType, cs, body, 0)
		if err != nil {
			return
		}
		var raw json.RawMessage
		switch {
		case ev.call != nil:
			raw = ev.call.Raw
			if key := ev.dedupKey(); len(key) != len("call:")+32 { // by sn, id, or else content
				t.Fatalf("key %q for sn %q, id %d", key, ev.call.SN, ev.call.ID)
			}
			if len(ev.call.SN) > maxSNBytes {
				t.Fatalf("sn of %d bytes", len(ev.call.SN))
			}
		case ev.imp != nil:
			raw = ev.imp.Raw
		case ev.stats != nil:
			raw = ev.stats.Raw
		default:
			return
		}
		trimmed := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
		isJSON := raw[0] == '{'
		if isJSON && !bytes.Equal(raw, trimmed) || !isJSON && !bytes.Equal(raw, body) {
			t.Fatalf("Raw %q from a body of %q", raw, body)
		}
		if isJSON && utf8.Valid(body) && !json.Valid(raw) {
			t.Fatalf("Raw is not JSON: %q", raw)
		}
	})
}

// FuzzTemplateListAgreesWithEncodingJSON pins the one-scan decoding of a list reply (the codec's
// DecodeList) to the plain path it replaced, encoding/json into []*Template calling each item's
// UnmarshalJSON: the same templates, but that null items are dropped instead of kept as nil, and
// that PHP's array with holes (an object keyed by index) is read as a list instead of failing.
func FuzzTemplateListAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{`[{"id":1,"sn":"projects|a","created_at":"2024-07-02 15:03:24","voice_break":"1"}]`,
		`[{"project_sn":"project|b","x":[1]},null,{"id":"2","created_at":1719903804}]`, `[]`, `{}`, `null`, `[1]`, `"a"`,
		`{"0":{"sn":"a"},"2":{"sn":"b"}}`, `[{"id":{"a":1}}]`, `[{"sn":"\ud800\u00e9"}]`, `[[]]`, `[{}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) { // the envelope check passes only valid JSON on
			return
		}
		var plain []*Template
		errPlain := json.Unmarshal(data, &plain)
		if isEmpty(data) {
			plain, errPlain = nil, nil // decodeData's rule: nothing to decode
		}
		got, err := decodeList(templateCodec, data)
		for _, tpl := range got {
			tpl.settle()
		}
		if i := bytes.IndexAny(data, "{["); errPlain != nil && i >= 0 && data[i] == '{' {
			return // an object: a list with holes, which only the codec reads
		}
		if (errPlain == nil) != (err == nil) {
			t.Fatalf("%q: encoding/json %v, codec %v", data, errPlain, err)
		}
		var want []*Template
		for _, tpl := range plain {
			if tpl != nil {
				want = append(want, tpl)
			}
		}
		if err == nil {
			assert.Equal(t, want, got, "%q", data)
		}
	})
}

// twoScanLogin is the login reply as readLogin read it before it decoded the reply once:
// encoding/json into a map for user_sn, api_key and api_key_expire, then a Codec for the rest.
type twoScanLogin struct {
	ID           int64     `json:"id"`
	APIKeyExpire time.Time `json:"api_key_expire"`
	UserName     string    `json:"user_name"`
	TeamName     string    `json:"team_name"`
	TeamSN       string    `json:"team_sn"`
	ParentSN     string    `json:"parent_sn"`
	Job          string    `json:"job"`
	CallerGroup  string    `json:"caller_group"`
	AICount      int       `json:"ai_count"`
	Expired      string    `json:"expired"`

	Extra map[string]json.RawMessage `json:"-"`
}

var twoScanLoginCodec = flex.NewCodec[twoScanLogin]()

// FuzzLoginReplyAgreesWithTwoScans pins readLogin, which decodes a login reply once, to the two
// scans it replaced: the same session (or both refuse the reply), and the same members dropped.
func FuzzLoginReplyAgreesWithTwoScans(f *testing.F) {
	for _, s := range []string{`{"user_sn":"u","api_key":"k","api_key_expire":1719903804,"id":"7","ai_count":"3"}`,
		`{"user_sn":12,"api_key":"k","api_key_expire":"2024-07-02 15:03:24","team_name":null,"x":[1]}`,
		`{"user_sn":"u","api_key":"k","api_key_expire":"0000-00-00 00:00:00"}`, `{"user_sn":"u","api_key":"k","api_key_expire":" "}`,
		`{"user_sn":"u","api_key":"k","api_key_expire":{"a":1},"id":[1]}`, `{"user_sn":"u","api_key":""}`, `[]`, `null`, `"u"`,
		`{"user_sn":"u","api_key":"a","api_key":"b","user\u005fsn":"v","api_key_expire":true}`, `{"user_sn":{},"api_key":"k"}`} {
		f.Add([]byte(s))
	}
	now := time.Date(2024, 7, 2, 7, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) { // the envelope check passes only valid JSON on
			return
		}
		var logs bytes.Buffer
		a := &authenticator{log: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
		got, err := a.readLogin(t.Context(), &reply{data: data, body: data}, now)

		var members map[string]json.RawMessage
		_ = json.Unmarshal(data, &members)
		userSN, okSN := loginText(members["user_sn"])
		key, okKey := loginText(members["api_key"])
		if !okSN || !okKey {
			require.Error(t, err, "%q", data)
			return
		}
		require.NoError(t, err, "%q", data)
		var lr twoScanLogin
		_ = twoScanLoginCodec.Decode(data, &lr)
		var dropped []string
		for name := range lr.Extra {
			if twoScanLoginCodec.Has(name) {
				dropped = append(dropped, name)
			}
		}
		slices.Sort(dropped)
		ref := &authenticator{log: slog.New(slog.DiscardHandler)}
		want := &Session{
			UserSN: userSN, APIKey: NewSecret(key), ExpiresAt: ref.keyExpiry(t.Context(), members["api_key_expire"], lr.APIKeyExpire, now),
			UserID: lr.ID, UserName: lr.UserName, TeamName: lr.TeamName, TeamSN: lr.TeamSN, ParentSN: lr.ParentSN,
			Job: lr.Job, CallerGroup: lr.CallerGroup, AICount: lr.AICount, AccountExpires: lr.Expired,
		}
		assert.True(t, want.ExpiresAt.Equal(got.ExpiresAt), "%q: expiry %s, want %s", data, got.ExpiresAt, want.ExpiresAt)
		want.ExpiresAt = got.ExpiresAt
		assert.Equal(t, want, got, "%q", data)
		var gotDropped []string
		if m := regexp.MustCompile(`members="?\[([^\]]*)\]`).FindStringSubmatch(logs.String()); m != nil {
			gotDropped = strings.Fields(m[1])
		}
		slices.Sort(gotDropped)
		assert.Equal(t, dropped, gotDropped, "%q: members dropped", data)
	})
}
