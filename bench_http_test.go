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
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/benchkit"
	"github.com/digelao-go/digelao/internal/pushsample"
)

// rtReply is what the round-trip server answers: a small envelope.
const rtReply = `{"code":0,"msg":"ok","data":{"list":[],"total":0}}`

func rtServe(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, rtReply)
}

// rtData is what every round-trip candidate decodes data into.
type rtData struct {
	Total int `json:"total"`
}

// roundTripBench is a loopback server and three ways of making the same crmList call to it, all
// through the same *http.Transport (one pool of connections): the SDK, a fair hand-written client,
// and a raw POST of the already-signed bytes.
type roundTripBench struct {
	ctx    context.Context
	client *Client
	fair   *fairClient
	hc     *http.Client
	url    string
	call   *Params // the call's own parameters; the clients add user_sn and api_key
	body   []byte  // the signed body, for the raw POST
}

func newRoundTripBench(t *testing.T, h http.Handler) *roundTripBench {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	hc := srv.Client()
	// Enough idle connections for 8 goroutines, so no candidate pays for new connections.
	hc.Transport.(*http.Transport).MaxIdleConnsPerHost = 16
	c, err := New(srv.URL, WithAPIKey(testUserSN, testAPIKey), WithHTTPClient(hc))
	require.NoError(t, err)
	body, err := signedBody(benchParams())
	require.NoError(t, err)
	return &roundTripBench{
		ctx: t.Context(), client: c, hc: hc, url: srv.URL + "/api/crmList", call: crmListCall(), body: body,
		fair: &fairClient{hc: &http.Client{Transport: hc.Transport, Timeout: DefaultTimeout}, base: srv.URL,
			userSN: testUserSN, apiKey: testAPIKey},
	}
}

func (rt *roundTripBench) sdk() error {
	var out rtData
	return rt.client.Do(rt.ctx, http.MethodPost, "/api/crmList", rt.call, &out)
}

func (rt *roundTripBench) fairCall() error {
	var out rtData
	return rt.fair.call(rt.ctx, "/api/crmList", rt.call, &out)
}

// raw is plain net/http, for context: POST the signed bytes, read the reply, one json.Unmarshal.
func (rt *roundTripBench) raw() error {
	req, err := http.NewRequestWithContext(rt.ctx, http.MethodPost, rt.url, bytes.NewReader(rt.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := rt.hc.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Code int    `json:"code"`
		Data rtData `json:"data"`
	}
	return json.Unmarshal(b, &env)
}

// fairClient does by hand the work the SDK does for a call: user_sn and api_key first, then the
// call's parameters; PHP-style JSON (Params.MarshalJSON) signed with md5 and url appended; the
// headers the SDK sends; a timeout as the SDK's; the envelope checked (a code that may be a string),
// then data decoded — all with encoding/json and net/http.
type fairClient struct {
	hc             *http.Client
	base           string
	userSN, apiKey string
}

func (fc *fairClient) call(ctx context.Context, path string, p *Params, out any) error {
	all := NewParams().Set("user_sn", fc.userSN).Set("api_key", fc.apiKey)
	for _, k := range p.Keys() {
		v, _ := p.Get(k)
		all.Set(k, v)
	}
	b, err := all.MarshalJSON()
	if err != nil {
		return err
	}
	sum := md5.Sum(b)
	b = append(b[:len(b)-1], `,"url":"`...)
	b = append(b, hex.EncodeToString(sum[:])[1:9]...)
	b = append(b, `"}`...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, fc.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", DefaultUserAgent)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := fc.hc.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Code json.RawMessage `json:"code"`
		Msg  string          `json:"msg"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(reply, &env); err != nil {
		return err
	}
	if code, err := strconv.Atoi(strings.Trim(string(env.Code), `"`)); err != nil || code != 0 || resp.StatusCode >= 300 {
		return fmt.Errorf("HTTP %d, code %s: %s", resp.StatusCode, env.Code, env.Msg)
	}
	return json.Unmarshal(env.Data, out)
}

func goroutines(n int) string {
	if n == 1 {
		return "1 goroutine"
	}
	return strconv.Itoa(n) + " goroutines"
}

// benchRoundTrip: a crmList call through the SDK against the fair hand-written client, with raw
// net/http beside them, from 1 and from 8 goroutines.
func benchRoundTrip(t *testing.T, rep *benchReport) {
	rt := newRoundTripBench(t, http.HandlerFunc(rtServe))
	cfgs := []benchkit.Config{
		{Rounds: 31, Slice: 150 * time.Millisecond, Goroutines: 1},
		{Rounds: 31, Slice: 150 * time.Millisecond, Goroutines: 8},
	}
	var b strings.Builder
	b.WriteString(rep.method(cfgs[0].Rounds, about(cfgs[0])+"; then as many rounds from 8 goroutines sharing each client"))
	b.WriteString("A crmList call with six parameters to a loopback `httptest` server answering " + "`" + rtReply + "`. " +
		"Both ends are in the process, so the server's allocations count on every side.\n\n")
	b.WriteString("| goroutines | candidate | time/op | ÷ fair client | by CPU time | allocs/op | B/op | target | |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, cfg := range cfgs {
		res := compare(t, cfg,
			benchkit.Candidate{Name: "sdk", Op: rt.sdk},
			benchkit.Candidate{Name: "fair", Op: rt.fairCall},
			benchkit.Candidate{Name: "raw", Op: rt.raw})
		tg := rep.target(benchkit.Bound("round trip ÷ a fair hand-written client, "+goroutines(cfg.Goroutines),
			res.Ratio("sdk", "fair"), false, 1.10, benchkit.Ratio).WithCPU(res.CPURatio("sdk", "fair")))
		for _, c := range []struct{ name, label, want, verdict string }{
			{"sdk", "**SDK `Client.Do`**", tg.Want, tg.Verdict()},
			{"fair", "baseline: fair hand-written client", "", ""},
			{"raw", "context: raw `net/http` POST of the signed bytes", "", ""},
		} {
			ratio, cpu := benchkit.FormatSpread(res.Ratio(c.name, "fair"), benchkit.Ratio), tg.CPU
			switch c.name {
			case "sdk":
				ratio = "**" + ratio + "**"
			case "fair":
				ratio, cpu = "1.00×", "1.00×"
			case "raw":
				cpu = benchkit.FormatSpread(res.CPURatio("raw", "fair"), benchkit.Ratio)
			}
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", cfg.Goroutines, c.label,
				benchkit.Duration(res.Time(c.name).Median), ratio, cpu, benchkit.Count(res.Allocs(c.name).Median),
				benchkit.Count(res.Bytes(c.name).Median), c.want, c.verdict)
		}
	}
	rep.add("roundtrip", b.String())
}

// pushGen makes call-record pushes (the 6.6.2 sample, PHP-encoded) that differ only in their sn,
// which counts up, so that no push repeats another and every one reaches the callback.
type pushGen struct {
	tmpl []byte
	at   int // where the sn's last 16 hex digits start
	n    atomic.Uint64
}

func newPushGen() *pushGen {
	const sn = "account|a6505ba3c1d94e7f0000000000000000"
	tmpl := pushsample.CallRecord(sn, "15800000000")
	return &pushGen{tmpl: tmpl, at: bytes.Index(tmpl, []byte(sn)) + len(sn) - 16}
}

// next returns the next push, in b's storage when it has room.
func (g *pushGen) next(b []byte) []byte {
	b = append(b[:0], g.tmpl...)
	n := g.n.Add(1)
	for i := 15; i >= 0; i-- {
		b[g.at+i] = "0123456789abcdef"[n&0xf]
		n >>= 4
	}
	return b
}

// sdkPushHandler is a PushHandler as the README sets one up, without a Token (the bare handler
// checks none), counting the records it is handed.
func sdkPushHandler(handled *atomic.Int64) *PushHandler {
	return &PushHandler{OnCallRecord: func(context.Context, *CallRecord) error {
		handled.Add(1)
		return nil
	}}
}

// barePush is the baseline receiver: read the body, json.Unmarshal it into a map, answer SUCCESS.
func barePush(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	var m map[string]any
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		http.Error(w, "bad push", http.StatusBadRequest)
		return
	}
	_, _ = io.WriteString(w, "SUCCESS")
}

// pushRecorder is the least a ResponseWriter can be, so the direct calls measure the handlers.
type pushRecorder struct {
	header http.Header
	status int
	body   []byte
}

func (w *pushRecorder) Header() http.Header {
	if w.header == nil {
		w.header = http.Header{}
	}
	return w.header
}

func (w *pushRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *pushRecorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	w.body = append(w.body, b...)
	return len(b), nil
}

// directPush calls h.ServeHTTP with the next push, as the server would: a POST of JSON.
func directPush(h http.Handler, gen *pushGen) func() error {
	var buf []byte
	u := &url.URL{Path: "/push"}
	return func() error {
		buf = gen.next(buf)
		r := &http.Request{Method: http.MethodPost, URL: u, RequestURI: "/push", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewReader(buf)),
			ContentLength: int64(len(buf)), Host: "receiver.example", RemoteAddr: "192.0.2.1:40000"}
		var w pushRecorder
		h.ServeHTTP(&w, r)
		if w.status != http.StatusOK || string(w.body) != "SUCCESS" {
			return fmt.Errorf("answered %d %q", w.status, w.body)
		}
		return nil
	}
}

// postPush POSTs the next push to target over the network.
func postPush(hc *http.Client, target string, gen *pushGen) func() error {
	return func() error {
		resp, err := hc.Post(target, "application/json", bytes.NewReader(gen.next(nil)))
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		if err == nil && (resp.StatusCode != http.StatusOK || string(b) != "SUCCESS") {
			err = fmt.Errorf("answered %d %q", resp.StatusCode, b)
		}
		return err
	}
}

// pushServers serves h and the bare receiver on loopback, and returns a client with room for 64
// idle connections to each.
func pushServers(t *testing.T, h http.Handler) (sdkURL, bareURL string, hc *http.Client) {
	sdk, bare := httptest.NewServer(h), httptest.NewServer(http.HandlerFunc(barePush))
	t.Cleanup(sdk.Close)
	t.Cleanup(bare.Close)
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}
	t.Cleanup(tr.CloseIdleConnections)
	return sdk.URL + "/push", bare.URL + "/push", &http.Client{Transport: tr}
}

// benchPush: PushHandler against the bare receiver, called directly and over loopback from 64
// concurrent posters. The ratio is of pushes per second: the bare receiver's time ÷ the SDK's.
func benchPush(t *testing.T, rep *benchReport) {
	gen := newPushGen()
	var handled atomic.Int64
	direct := benchkit.Config{Rounds: 21, Slice: 100 * time.Millisecond, Goroutines: 1}
	loopback := benchkit.Config{Rounds: 21, Slice: 200 * time.Millisecond, Goroutines: 64}
	var b strings.Builder
	b.WriteString(rep.method(direct.Rounds, about(direct)+" calling ServeHTTP; then as many rounds "+about(loopback)+" posting over loopback"))
	fmt.Fprintf(&b, "A call-record push of %d bytes (the 6.6.2 sample, PHP-encoded), each with a new sn so none is a duplicate; "+
		"the SDK's handler is the zero value with OnCallRecord set (in-memory de-duplication, no Token). Over loopback "+
		"the allocations of the posting client count too.\n\n", len(gen.tmpl))
	b.WriteString("| | candidate | pushes/s | time/push | SDK ÷ bare, pushes/s | by CPU time | allocs/push | B/push | target | |\n|---|---|---|---|---|---|---|---|---|---|\n")
	sdkURL, bareURL, hc := pushServers(t, sdkPushHandler(&handled))
	for _, c := range []struct {
		how       string
		cfg       benchkit.Config
		sdk, bare func() error
		bound     float64
	}{
		{"`ServeHTTP` called directly", direct, directPush(sdkPushHandler(&handled), gen), directPush(http.HandlerFunc(barePush), gen), 0.85},
		{"over loopback, 64 concurrent posters", loopback, postPush(hc, sdkURL, gen), postPush(hc, bareURL, gen), 0.9},
	} {
		res := compare(t, c.cfg, benchkit.Candidate{Name: "sdk", Op: c.sdk}, benchkit.Candidate{Name: "bare", Op: c.bare})
		tg := rep.target(benchkit.Bound("`PushHandler` "+c.how+", pushes/s ÷ a bare handler (`json.Unmarshal` into a map)",
			res.Ratio("bare", "sdk"), true, c.bound, benchkit.Ratio).WithCPU(res.CPURatio("bare", "sdk")))
		for _, r := range []struct{ name, label, ratio, cpu, want, verdict string }{
			{"sdk", "**SDK `PushHandler`**", "**" + tg.Got + "**", tg.CPU, tg.Want, tg.Verdict()},
			{"bare", "baseline: bare handler", "1.00×", "1.00×", "", ""},
		} {
			ns := res.Time(r.name).Median
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c.how, r.label, benchkit.Count(1e9/ns),
				benchkit.Duration(ns), r.ratio, r.cpu, benchkit.Count(res.Allocs(r.name).Median), benchkit.Count(res.Bytes(r.name).Median),
				r.want, r.verdict)
		}
	}
	rep.add("push", b.String())
}

// importContacts is the import measured: one full batch.
const importContacts = MaxImportRows

// importRequest returns a task of n contacts with a template's usual columns and Chinese text.
func importRequest(n int) *CreateTaskRequest {
	contacts := make([]Contact, n)
	for i := range contacts {
		contacts[i] = Contact{Phone: fmt.Sprintf("138%08d", i), Name: "张三",
			Fields: map[string]string{"地址": "深圳市南山区", "公司名称": "某某科技有限公司", "备注": "老客户"}}
	}
	return &CreateTaskRequest{Name: "回访任务", ProjectSN: "projects|d98f3c1a5e7b9d2f4a6c8e0b1d3f5a7c",
		SeatSN: "SYSUSER|317d5a0c2e8b4f6a9d1c3e5b7a9f0d2e", Contacts: contacts,
		Columns: Columns{{Name: "电话", Required: true}, {Name: "姓名"}, {Name: "地址"}, {Name: "公司名称"}, {Name: "备注"}}}
}

// newImportBench returns a client of a loopback server that accepts every import, and the size of
// the last request body it read.
func newImportBench(t *testing.T) (*Client, *atomic.Int64) {
	var size atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		size.Store(n)
		_, _ = io.WriteString(w, `{"code":0,"msg":"ok","data":{"dial_task_main_id":7,"dial_task_main_sn":"dial_task_main_sn|1427a04cae36a5b7161c0b04b9206fa4"}}`)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, WithAPIKey(testUserSN, testAPIKey), WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	return c, &size
}

func importOp(ctx context.Context, c *Client, req *CreateTaskRequest) func() error {
	return func() error {
		res, err := c.Tasks.ImportInBatches(ctx, req, 0)
		if err == nil && res.Sent != len(req.Contacts) {
			err = fmt.Errorf("sent %d of %d", res.Sent, len(req.Contacts))
		}
		return err
	}
}

// importRSSChild is set in the environment of the child process that measures one import's peak
// resident memory.
const importRSSChild = "DIGELAO_BENCH_IMPORT_RSS"

// measureImportRSS is the child: one import of importContacts, then its resident memory before
// the import and its peak.
func measureImportRSS(t *testing.T) {
	c, _ := newImportBench(t)
	req := importRequest(importContacts)
	runtime.GC()
	before := procStatusKB(t, "VmRSS")
	require.NoError(t, importOp(t.Context(), c, req)())
	fmt.Printf("IMPORT_RSS before_kb=%d peak_kb=%d\n", before, procStatusKB(t, "VmHWM"))
}

func procStatusKB(t *testing.T, field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^` + field + `:\s+(\d+) kB`).FindSubmatch(b)
	require.NotNil(t, m, field)
	kb, err := strconv.ParseInt(string(m[1]), 10, 64)
	require.NoError(t, err)
	return kb
}

// importRSS runs the child runs times and returns the spreads of its resident memory before the
// import and at its peak, in MiB.
func importRSS(t *testing.T, runs int) (before, peak benchkit.Spread) {
	var b, p []float64
	for range runs {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestBenchmarks$", "-test.count=1")
		cmd.Env = append(os.Environ(), importRSSChild+"=1")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "child output:\n%s", out)
		m := regexp.MustCompile(`IMPORT_RSS before_kb=(\d+) peak_kb=(\d+)`).FindSubmatch(out)
		require.NotNil(t, m, "child output:\n%s", out)
		kb := func(s []byte) float64 { n, _ := strconv.ParseFloat(string(s), 64); return n / 1024 }
		b, p = append(b, kb(m[1])), append(p, kb(m[2]))
	}
	return benchkit.Quartiles(b), benchkit.Quartiles(p)
}

func mib(x float64) string { return strconv.FormatFloat(x, 'f', 1, 64) + " MiB" }

// benchImport: ImportInBatches of 30,000 contacts to a loopback server — the memory allocated per
// byte of request body, and the peak resident memory of a process that does one import.
func benchImport(t *testing.T, rep *benchReport) {
	if runtime.GOOS != "linux" {
		t.Skip("peak RSS is read from /proc/self/status")
	}
	cfg := benchkit.Config{Rounds: 7, Slice: time.Millisecond} // one import a round
	c, size := newImportBench(t)
	req := importRequest(importContacts)
	res := compare(t, cfg, benchkit.Candidate{Name: "sdk", Op: importOp(t.Context(), c, req)})
	body := float64(size.Load())
	perByte := rep.target(benchkit.Bound("`ImportInBatches`, 30,000 contacts: allocated bytes ÷ request body bytes",
		res.Bytes("sdk").Scale(1/body), false, 3, benchkit.Ratio))
	const rssRuns = 3
	before, peak := importRSS(t, rssRuns)
	rss := rep.target(benchkit.Bound("`ImportInBatches`, 30,000 contacts: peak RSS of the process", peak, false, 48, mib))
	var b strings.Builder
	b.WriteString(rep.method(cfg.Rounds, "one import"))
	fmt.Fprintf(&b, "%s contacts with five columns (phone, name and three of Chinese text) in one batch, to a loopback server "+
		"that discards the body. Allocations count the whole process, the server's reading included. Peak RSS is VmHWM of a "+
		"fresh test process that builds the contacts and imports them once, %d runs; before the import it holds %s "+
		"(the contacts, the server, the runtime).\n\n", benchkit.Count(importContacts), rssRuns, benchkit.FormatSpread(before, mib))
	b.WriteString("| request body | time/op | allocated/op | allocated ÷ body | allocs/op | peak RSS | target | |\n|---|---|---|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| %s | %s | %s | **%s** | %s | **%s** | %s; %s | %s; %s |\n", mib(body/(1<<20)),
		benchkit.Duration(res.Time("sdk").Median), mib(res.Bytes("sdk").Median/(1<<20)), perByte.Got,
		benchkit.Count(res.Allocs("sdk").Median), rss.Got, perByte.Want, rss.Want, perByte.Verdict(), rss.Verdict())
	rep.add("import", b.String())
}

// downloadSize is the recording benchDownload fetches.
const downloadSize = 64 << 20

// downloadBench returns a loopback server of a recording of size bytes and two ways to fetch it
// into io.Discard: Records.Download and a raw net/http GET copied with io.Copy.
func downloadBench(t *testing.T, size int) (sdk, raw func() error) {
	file := bytes.Repeat([]byte("RIFF-wav-"), size/9+1)[:size]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "audio/wav")
		w.Header().Set("Content-Length", strconv.Itoa(len(file)))
		_, _ = w.Write(file)
	}))
	t.Cleanup(srv.Close)
	c, err := New(srv.URL, WithAPIKey(testUserSN, testAPIKey), WithHTTPClient(srv.Client()))
	require.NoError(t, err)
	hc, ctx := srv.Client(), t.Context()
	check := func(n int64, err error) error {
		if err == nil && n != int64(size) {
			err = fmt.Errorf("got %d bytes of %d", n, size)
		}
		return err
	}
	sdk = func() error { return check(c.Records.Download(ctx, "/data/record", "2024/10/08/a.wav", io.Discard)) }
	raw = func() error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/cdrDownload", nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		return check(io.Copy(io.Discard, resp.Body))
	}
	return sdk, raw
}

// benchDownload: a 64 MiB recording through Records.Download against a raw GET + io.Copy.
func benchDownload(t *testing.T, rep *benchReport) {
	cfg := benchkit.Config{Rounds: 15, Slice: 150 * time.Millisecond}
	sdk, raw := downloadBench(t, downloadSize)
	res := compare(t, cfg, benchkit.Candidate{Name: "sdk", Op: sdk}, benchkit.Candidate{Name: "raw", Op: raw})
	var b strings.Builder
	b.WriteString(rep.method(cfg.Rounds, about(cfg)))
	b.WriteString("A 64 MiB recording from a loopback server into `io.Discard`. Allocations count both ends of the loopback.\n\n")
	b.WriteString("| candidate | time/op | ÷ raw GET | by CPU time | MB/s | allocated per MiB | allocs/op |\n|---|---|---|---|---|---|---|\n")
	for _, c := range []struct{ name, label string }{
		{"sdk", "**SDK `Records.Download`**"}, {"raw", "baseline: raw `net/http` GET + `io.Copy`"},
	} {
		ns := res.Time(c.name).Median
		ratio, cpu := "1.00×", "1.00×"
		if c.name == "sdk" {
			ratio = "**" + benchkit.FormatSpread(res.Ratio("sdk", "raw"), benchkit.Ratio) + "**"
			cpu = benchkit.FormatSpread(res.CPURatio("sdk", "raw"), benchkit.Ratio)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s B | %s |\n", c.label, benchkit.Duration(ns), ratio, cpu, benchkit.Count(downloadSize/ns*1e3),
			benchkit.Count(res.Bytes(c.name).Median/(downloadSize>>20)), benchkit.Count(res.Allocs(c.name).Median))
	}
	rep.add("download", b.String())
}

// TestBenchHTTPBaselines checks that the HTTP benchmarks compare like with like, and that every
// candidate works.
func TestBenchHTTPBaselines(t *testing.T) {
	t.Run("round trip: the fair client sends what the SDK sends", func(t *testing.T) {
		type seen struct {
			header http.Header
			body   []byte
		}
		var mu sync.Mutex
		var got []seen
		rt := newRoundTripBench(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			got = append(got, seen{r.Header.Clone(), b})
			mu.Unlock()
			rtServe(w, r)
		}))
		require.NoError(t, rt.sdk())
		require.NoError(t, rt.fairCall())
		require.NoError(t, rt.raw())
		require.Len(t, got, 3)
		assert.Equal(t, got[0].header, got[1].header)
		assert.Equal(t, string(got[0].body), string(got[1].body))
		assert.Equal(t, string(got[0].body), string(got[2].body), "the raw POST sends the same bytes")
		want, err := new(bodySigner).signedBody(&Session{UserSN: testUserSN, APIKey: NewSecret(testAPIKey)}, crmListCall())
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got[0].body), "the sign table measures the client's request path")

		refused := newRoundTripBench(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"code":"20005","msg":"api_key expired","data":{"total":3}}`)
		}))
		require.ErrorContains(t, refused.fairCall(), "code \"20005\"", "the fair client checks the envelope")
		require.Error(t, refused.sdk())
	})
	t.Run("push: every push reaches the callback, both receivers answer SUCCESS", func(t *testing.T) {
		gen := newPushGen()
		first, second := gen.next(nil), gen.next(nil)
		assert.NotEqual(t, string(first), string(second))
		assert.Len(t, second, len(gen.tmpl))
		var handled atomic.Int64
		sdk, bare := directPush(sdkPushHandler(&handled), gen), directPush(http.HandlerFunc(barePush), gen)
		for range 3 {
			require.NoError(t, sdk())
			require.NoError(t, bare())
		}
		assert.Equal(t, int64(3), handled.Load(), "no push was taken for a duplicate")
		sdkURL, bareURL, hc := pushServers(t, sdkPushHandler(&handled))
		require.NoError(t, postPush(hc, sdkURL, gen)())
		require.NoError(t, postPush(hc, bareURL, gen)())
		assert.Equal(t, int64(4), handled.Load())
	})
	t.Run("import", func(t *testing.T) {
		c, size := newImportBench(t)
		req := importRequest(100)
		require.NoError(t, importOp(t.Context(), c, req)())
		assert.Greater(t, size.Load(), int64(100*200), "about 240 bytes a contact")
	})
	t.Run("download", func(t *testing.T) {
		sdk, raw := downloadBench(t, 1<<20)
		require.NoError(t, sdk())
		require.NoError(t, raw())
	})
}
