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
	"runtime"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/digelao-go/digelao/internal/pushsample"
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

// roundTripBench is a loopback server answering a small JSON envelope, an SDK client for it and
// the raw request the baselines send: the very bytes the SDK sends, through the same *http.Client.
type roundTripBench struct {
	client *Client
	call   *Params // the SDK's parameters: benchParams without the common ones, which it adds
	hc     *http.Client
	url    string
	body   []byte
}

func newRoundTripBench(b *testing.B) *roundTripBench {
	reply := []byte(`{"code":0,"msg":"ok","data":{"list":[],"total":0}}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(reply)
	}))
	b.Cleanup(srv.Close)
	hc := srv.Client()
	// Enough idle connections for the parallel runs, so neither side pays for new connections.
	hc.Transport.(*http.Transport).MaxIdleConnsPerHost = 16
	c, err := New(srv.URL, WithAPIKey(testUserSN, testAPIKey), WithHTTPClient(hc))
	if err != nil {
		b.Fatal(err)
	}
	p := benchParams()
	call := NewParams()
	for i, k := range p.keys[2:] {
		call.Set(k, p.vals[i+2])
	}
	body, err := signedBody(p)
	if err != nil {
		b.Fatal(err)
	}
	return &roundTripBench{client: c, call: call, hc: hc, url: srv.URL + "/api/crmList", body: body}
}

// sdk makes one call through the SDK: sign, send, check the envelope, decode data.
func (rt *roundTripBench) sdk(ctx context.Context) error {
	var out struct {
		Total int `json:"total"`
	}
	return rt.client.Do(ctx, "POST", "/api/crmList", rt.call, &out)
}

// raw POSTs the same bytes with net/http and reads the reply.
func (rt *roundTripBench) raw(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, "POST", rt.url, bytes.NewReader(rt.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := rt.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	return err
}

// BenchmarkRoundTrip compares a POST through the SDK with a raw net/http POST of the same bytes
// to the same loopback server, one call at a time.
func BenchmarkRoundTrip(b *testing.B) {
	rt := newRoundTripBench(b)
	for _, bc := range []struct {
		name string
		call func(context.Context) error
	}{{"sdk", rt.sdk}, {"baseline=raw-net-http", rt.raw}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := bc.call(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRoundTripParallel is BenchmarkRoundTrip with 4 goroutines per CPU sharing one warm
// client (8 on a 2-CPU machine), against raw net/http from as many goroutines.
func BenchmarkRoundTripParallel(b *testing.B) {
	rt := newRoundTripBench(b)
	for _, bc := range []struct {
		name string
		call func(context.Context) error
	}{{"sdk", rt.sdk}, {"baseline=raw-net-http", rt.raw}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := bc.call(b.Context()); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// downloadSize is the recording BenchmarkDownload fetches.
const downloadSize = 64 << 20

// BenchmarkDownload streams a 64 MiB recording from a loopback server into io.Discard with
// Records.Download, against a raw net/http GET copied into io.Discard. alloc-B/MiB is the memory
// allocated (both ends of the loopback, so the baseline's figure is the floor) per MiB received.
func BenchmarkDownload(b *testing.B) {
	file := bytes.Repeat([]byte("RIFF-wav-"), downloadSize/9+1)[:downloadSize]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "audio/wav")
		w.Header().Set("Content-Length", strconv.Itoa(len(file)))
		_, _ = w.Write(file)
	}))
	defer srv.Close()
	c, err := New(srv.URL, WithAPIKey(testUserSN, testAPIKey), WithHTTPClient(srv.Client()))
	if err != nil {
		b.Fatal(err)
	}
	hc := srv.Client()
	for _, bc := range []struct {
		name string
		get  func(context.Context) (int64, error)
	}{
		{"sdk", func(ctx context.Context) (int64, error) {
			return c.Records.Download(ctx, "/data/record", "2024/10/08/a.wav", io.Discard)
		}},
		{"baseline=raw-net-http", func(ctx context.Context) (int64, error) {
			req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/cdrDownload", nil)
			if err != nil {
				return 0, err
			}
			resp, err := hc.Do(req)
			if err != nil {
				return 0, err
			}
			defer resp.Body.Close()
			return io.Copy(io.Discard, resp.Body)
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(downloadSize)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for b.Loop() {
				if n, err := bc.get(b.Context()); err != nil || n != downloadSize {
					b.Fatal(n, err)
				}
			}
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(downloadSize>>20), "alloc-B/MiB")
		})
	}
}

// BenchmarkWarmSession measures the warm path of the session lookup under parallel callers: an
// atomic load, no lock.
func BenchmarkWarmSession(b *testing.B) {
	c, err := New(testBase, WithPassword("u", "p"))
	if err != nil {
		b.Fatal(err)
	}
	c.auth.cur.Store(&Session{UserSN: "u", APIKey: NewSecret("k")})
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
	body := pushsample.CallRecord("account|a6505ba3c1d94e7f8b2a0c6e4d8f1b3a", "15800000000")
	b.Run("sdk", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if ev, err := decodePush("application/json", charsetAuto, body); err != nil || ev.call == nil {
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
