package digelao

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
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

// FuzzParseEnvelope feeds arbitrary replies to the envelope check: it must never panic, and must
// either succeed or return an *APIError that holds no more than a bounded excerpt.
func FuzzParseEnvelope(f *testing.F) {
	for _, s := range []string{`{"code":0,"data":[]}`, `{"code":"20006"}`, `{"rst":"200"}`, `<html>`, ``,
		`{"code":1e999}`, `{"code":null,"msg":{"a":1}}`, `{"total":1,"datas":[]}`} {
		f.Add(200, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		_, apiErr := parseEnvelope(endpoint{}, status, body, []string{"SECRETKEY"})
		if apiErr != nil {
			if len(apiErr.Body) > maxExcerpt {
				t.Fatalf("excerpt of %d bytes", len(apiErr.Body))
			}
			if strings.Contains(apiErr.Error(), "SECRETKEY") {
				t.Fatalf("secret in %q", apiErr.Error())
			}
			return
		}
		// Success only for a 2xx object whose exact "code" (or, without one, "rst") is 0 or 200.
		var m map[string]json.RawMessage
		if status >= 300 || json.Unmarshal(body, &m) != nil {
			t.Fatalf("success for status %d, body %q", status, body)
		}
		raw, ok := m["code"]
		if !ok {
			raw = m["rst"]
		}
		var text string
		if json.Unmarshal(raw, &text) != nil {
			text = string(raw)
		}
		if n, err := strconv.Atoi(strings.TrimSpace(text)); err != nil || (n != 0 && n != 200) {
			t.Fatalf("success for code %s in %q", raw, body)
		}
	})
}

// FuzzPushDecode feeds arbitrary bodies and content types to the push decoder PushHandler uses: it
// must never panic; every event's Raw is the body as received (a JSON object without the white
// space around it, or else the whole body), JSON when it starts with '{' and the body is UTF-8; a
// call record's key is of fixed size and made of its SN, which is bounded; and the JSON object
// built from a form stays within a constant factor of the body, which the handler bounds by
// MaxBodyBytes.
func FuzzPushDecode(f *testing.F) {
	f.Add("application/json", SampleCallRecordPush("account|1", "13800138000"))
	f.Add("application/json", SampleImportResultPush(ImportResult{TaskSN: "t", Counts: ImportCounts{Total: 1}}))
	f.Add("", SampleTaskAnalyticsPush("t"))
	f.Add("application/x-www-form-urlencoded", []byte("sn=account%7C1&phone=1&talktimes=3&m%5Ba%5D%5B%5D=1"))
	f.Add("application/x-www-form-urlencoded; charset=gbk", []byte("sn=account%7C1&name=%D5%C5%C8%FD"))
	f.Add("application/x-www-form-urlencoded", []byte("data=%7B%22sn%22%3A%22s%22%7D"))
	f.Add("application/json; charset=gb18030", []byte("{\"sn\":\"a\",\"name\":\"\xd5\xc5\x95\x32\x82\x36\"}"))
	f.Add("multipart/form-data; boundary=X", []byte("--X\r\nContent-Disposition: form-data; name=\"sn\"\r\n\r\ns\r\n--X--\r\n"))
	for _, s := range []string{`[]`, `"x"`, `{"import_mark":"x","dial_task_main_sn":1}`, `{"dial_task_main_data":{}}`, "%zz",
		"\xef\xbb\xbf{}", "{\"sn\":\"a|\xff\"}", `{"sn":"\ud83d\ude00\u00e9","SN":"b"}`, `{"sn":"\ud800","id":1}`} {
		f.Add("", []byte(s))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		cs, _ := requestCharset(charsetAuto, contentType)
		if pb, err := pushObject(contentType, cs, body); err == nil && pb != nil && len(pb.obj) > 6*len(body)+8 {
			t.Fatalf("%d bytes of JSON from a body of %d", len(pb.obj), len(body))
		}
		ev, err := decodePush(contentType, cs, body)
		if err != nil {
			return
		}
		var raw json.RawMessage
		switch {
		case ev.call != nil:
			raw = ev.call.Raw
			key := ev.dedupKey()
			if key != "" && len(key) != len("call:")+32 {
				t.Fatalf("key %q", key)
			}
			if len(ev.call.SN) > maxSNBytes || (key == "") != (ev.call.SN == "" && ev.call.ID == 0) {
				t.Fatalf("key %q for sn %q, id %d", key, ev.call.SN, ev.call.ID)
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
