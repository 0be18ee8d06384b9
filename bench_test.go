package digelao

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf16"
)

// benchParams is a typical call: the common parameters and a crmList filter with Chinese text.
func benchParams() *Params {
	return NewParams().Set("user_sn", testUserSN).Set("api_key", testAPIKey).
		Set("start_create_at", "2024-08-01 00:00:00").Set("end_create_at", "2024-10-08 23:59:59").
		Set("dial_task_main_sn", "dial_task_main_sn|1427a04cae36a5b7161c0b04b9206fa4").
		Set("source", "回访任务").Set("pageIndex", 0).Set("pageSize", 1000)
}

// BenchmarkSign measures the SDK's signer. Baselines in the same run: md5 of the already-encoded
// bytes (the floor) and a naive signer built on encoding/json.
func BenchmarkSign(b *testing.B) {
	p := benchParams()
	b.Run("sdk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Sign(p); err != nil {
				b.Fatal(err)
			}
		}
	})
	encoded, err := p.MarshalJSON()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("baseline=md5-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sum := md5.Sum(encoded)
			_ = hex.EncodeToString(sum[:])[1:9]
		}
	})
	b.Run("baseline=naive-encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if naiveSign(p) == "" {
				b.Fatal("empty")
			}
		}
	})
}

// naiveSign is how a signer is commonly written: encoding/json per value, then string rewriting
// for PHP's slash and non-ASCII escapes.
func naiveSign(p *Params) string {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range p.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		v := p.vals[i]
		if _, ok := v.(string); !ok {
			v = fmt.Sprint(v)
		}
		var vb bytes.Buffer
		enc := json.NewEncoder(&vb)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		buf.Write(bytes.TrimRight(vb.Bytes(), "\n"))
	}
	buf.WriteByte('}')
	var out strings.Builder
	for _, r := range strings.ReplaceAll(buf.String(), "/", `\/`) {
		if r < 0x80 {
			out.WriteRune(r)
			continue
		}
		for _, u := range utf16.Encode([]rune{r}) {
			fmt.Fprintf(&out, `\u%04x`, u)
		}
	}
	sum := md5.Sum([]byte(out.String()))
	return hex.EncodeToString(sum[:])[1:9]
}

// BenchmarkRoundTrip compares a POST through the SDK (sign, send, check the envelope, decode
// data) with a raw net/http POST of the same bytes to the same loopback server.
func BenchmarkRoundTrip(b *testing.B) {
	reply := []byte(`{"code":0,"msg":"ok","data":{"list":[],"total":0}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(reply)
	}))
	defer srv.Close()
	c, err := New(srv.URL, WithAPIKey(testUserSN, testAPIKey), WithHTTPClient(srv.Client()))
	if err != nil {
		b.Fatal(err)
	}
	p := benchParams()
	call := NewParams()
	for i, k := range p.keys[2:] {
		call.Set(k, p.vals[i+2])
	}
	ctx := context.Background()
	var out struct {
		Total int `json:"total"`
	}
	b.Run("sdk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Do(ctx, "POST", "/api/crmList", call, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	body, err := signedBody(p)
	if err != nil {
		b.Fatal(err)
	}
	hc := srv.Client()
	b.Run("baseline=raw-net-http", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/api/crmList", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
	})
	b.Run("sdk-parallel-warm", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			var out struct {
				Total int `json:"total"`
			}
			for pb.Next() {
				if err := c.Do(ctx, "POST", "/api/crmList", call, &out); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("baseline=raw-net-http-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/api/crmList", bytes.NewReader(body))
				resp, err := hc.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
			}
		})
	})
}

// BenchmarkWarmSession measures the warm path of the session lookup under parallel callers: an
// atomic load, no lock.
func BenchmarkWarmSession(b *testing.B) {
	c, err := New(testBase, WithPassword("u", "p"))
	if err != nil {
		b.Fatal(err)
	}
	c.auth.cur.Store(&Session{UserSN: "u", APIKey: "k"})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.auth.session(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkPushDecode measures turning a realistic call-record push (the 6.6.2 sample, PHP-encoded)
// into a typed event, against encoding/json decoding the same bytes into a map in the same run.
func BenchmarkPushDecode(b *testing.B) {
	body := SampleCallRecordPush("account|a6505ba3c1d94e7f8b2a0c6e4d8f1b3a", "15800000000")
	b.Run("sdk", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if ev, err := decodePush("application/json", body); err != nil || ev.call == nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline=encoding-json-map", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
