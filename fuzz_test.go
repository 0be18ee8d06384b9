package digelao

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

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
