package digelao

import (
	"encoding/json"
	"net/url"
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

// FuzzParseEnvelope feeds arbitrary replies to the envelope check: it must never panic, and must
// either succeed or return an *APIError that holds no more than a bounded excerpt.
func FuzzParseEnvelope(f *testing.F) {
	for _, s := range []string{`{"code":0,"data":[]}`, `{"code":"20006"}`, `{"rst":"200"}`, `<html>`, ``,
		`{"code":1e999}`, `{"code":null,"msg":{"a":1}}`, `{"total":1,"datas":[]}`} {
		f.Add(200, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		_, apiErr := parseEnvelope(status, body, []string{"SECRETKEY"})
		if apiErr != nil {
			if len(apiErr.Body) > maxExcerpt {
				t.Fatalf("excerpt of %d bytes", len(apiErr.Body))
			}
			_ = apiErr.Error()
		}
	})
}
