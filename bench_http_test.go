package digelao

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/digelao-go/digelao/internal/pushsample"
)

// baseClient is the hand-written client of the HTTP baselines: net/http with a timeout as the SDK's,
// the SDK's headers, the baselines' own encoder and md5 (baseBody), and encoding/json into plain
// structs.
type baseClient struct {
	hc   *http.Client
	base string
}

// post sends body to path with the SDK's headers and decodes the reply into out.
func (bc *baseClient) post(ctx context.Context, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, bc.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", DefaultUserAgent)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := bc.hc.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	reply, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return json.Unmarshal(reply, out)
}

// plainTemplate is Template's json tags on plain types that fit the data.
type plainTemplate struct {
	ID          int64  `json:"id"`
	SN          string `json:"sn"`
	ProjectSN   string `json:"project_sn"`
	Name        string `json:"project_caption"`
	ProjectName string `json:"project_name"`
	QuestionSN  string `json:"question_sn"`
	VoiceBreak  string `json:"voice_break"`
	UserSN      string `json:"user_sn"`
	CreatedAt   string `json:"created_at"`
	UpdatedAt   string `json:"updated_at"`
}

// templateRows is how many templates the Templates.List benchmark's page holds.
const templateRows = 10

// templatesReply is a 7.1 reply of n templates, as the platform writes the first one of
// testdata/replies/templatelist.json.
func templatesReply(n int) []byte {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"id":%d,"sn":"projects|4a92c1e8f07b3d65a9e2c4b1d8f3%04x","project_name":"\u793a\u4f8b\u79d1\u6280",`+
			`"project_caption":"zzh\u4eba\u673a\u8026\u5408","voice_break":"1","user_sn":"SYSUSER|b3397882e26ba9e7fb8f01f1af345bde",`+
			`"created_at":"2024-01-01 00:00:00","updated_at":"2024-03-05 12:00:00","scene":"\u50ac\u7f34"}`, 118+i, i)
	}
	return []byte(`{"code":0,"msg":"\u83b7\u53d6\u6210\u529f","data":[` + strings.Join(items, ",") + `]}`)
}

// recordsPage is how many call records the Records.List benchmark's page holds.
const recordsPage = 1000

// httpBench is a loopback server of the platform's replies — a page of templateRows templates, a
// crmList page of recordsPage records — and the SDK and the hand-written client that call it, over
// one *http.Transport.
type httpBench struct {
	ctx  context.Context
	sdk  *Client
	base *baseClient
	from time.Time
}

func newHTTPBench(tb testing.TB, h http.Handler) *httpBench {
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	tr := srv.Client().Transport.(*http.Transport)
	tr.MaxIdleConnsPerHost = 16 // enough for 8 goroutines: no candidate pays for new connections
	c, err := New(srv.URL, WithAPIKey(testUserSN, testAPIKey), WithTransport(tr))
	require.NoError(tb, err)
	return &httpBench{ctx: tb.Context(), sdk: c, base: &baseClient{hc: &http.Client{Transport: tr, Timeout: DefaultTimeout}, base: srv.URL},
		from: time.Date(2024, 8, 1, 0, 0, 0, 0, time.UTC)}
}

// platformReplies answers 7.1 and 6.1 as the platform would, with the length announced.
func platformReplies() http.Handler {
	templates := templatesReply(templateRows)
	records, _ := crmListReply(recordsPage)
	mux := http.NewServeMux()
	for path, reply := range map[string][]byte{"/api/templatelist": templates, "/api/crmList": records} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Length", strconv.Itoa(len(reply)))
			_, _ = w.Write(reply)
		})
	}
	return mux
}

// count checks that a call read n items.
func count(n, want int, err error) error {
	if err == nil && n != want {
		err = fmt.Errorf("read %d items, want %d", n, want)
	}
	return err
}

func (hb *httpBench) sdkTemplates() error {
	list, _, err := hb.sdk.Templates.List(hb.ctx, &TemplateListOptions{ListOptions: ListOptions{PerPage: templateRows}})
	return count(len(list), templateRows, err)
}

func (hb *httpBench) baseTemplates() error {
	body := baseBody(append(common(), "pageIndex", "0", "pageSize", strconv.Itoa(templateRows))...)
	var reply struct {
		Code json.RawMessage `json:"code"`
		Msg  string          `json:"msg"`
		Data []plainTemplate `json:"data"`
	}
	err := hb.base.post(hb.ctx, "/api/templatelist", body, &reply)
	if err == nil && !okCode(reply.Code) {
		err = fmt.Errorf("code %s: %s", reply.Code, reply.Msg)
	}
	return count(len(reply.Data), templateRows, err)
}

func (hb *httpBench) sdkRecords() error {
	list, _, err := hb.sdk.Records.List(hb.ctx, &RecordListOptions{ListOptions: ListOptions{PerPage: recordsPage},
		CreatedFrom: hb.from, CreatedTo: hb.from.Add(24 * time.Hour)})
	return count(len(list), recordsPage, err)
}

func (hb *httpBench) baseRecords() error {
	body := baseBody(append(common(), "start_create_at", "2024-08-01 08:00:00", "end_create_at", "2024-08-02 08:00:00",
		"pageIndex", "0", "pageSize", strconv.Itoa(recordsPage))...)
	var reply plainReply
	err := hb.base.post(hb.ctx, "/api/crmList", body, &reply)
	if err == nil && !okCode(reply.Code) {
		err = fmt.Errorf("code %s: %s", reply.Code, reply.Msg)
	}
	return count(len(reply.Data.List), recordsPage, err)
}

// BenchmarkTemplatesList: a Templates.List round trip of a page of 10 templates over loopback,
// from 1 and from 8 goroutines, against the hand-written client.
func BenchmarkTemplatesList(b *testing.B) {
	hb := newHTTPBench(b, platformReplies())
	for _, g := range []int{1, 8} {
		b.Run("goroutines="+strconv.Itoa(g), func(b *testing.B) {
			race(b, func(b *testing.B) { measure(b, g, hb.sdkTemplates) }, func(b *testing.B) { measure(b, g, hb.baseTemplates) })
		})
	}
}

// BenchmarkRecordsList: a Records.List round trip of a crmList page of 1,000 call records (1.2 MB)
// over loopback, against the hand-written client.
func BenchmarkRecordsList(b *testing.B) {
	hb := newHTTPBench(b, platformReplies())
	b.Run("records="+strconv.Itoa(recordsPage), func(b *testing.B) {
		race(b, func(b *testing.B) { measure(b, 1, hb.sdkRecords) }, func(b *testing.B) { measure(b, 1, hb.baseRecords) })
	})
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

// barePush is the baseline receiver: read the body, decode it with encoding/json into plainRecord,
// answer SUCCESS.
func barePush(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	var rec plainRecord
	if err == nil {
		err = json.Unmarshal(b, &rec)
	}
	if err != nil || rec.SN == "" {
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
func pushServers(tb testing.TB, h http.Handler) (sdkURL, bareURL string, hc *http.Client) {
	sdk, bare := httptest.NewServer(h), httptest.NewServer(http.HandlerFunc(barePush))
	tb.Cleanup(sdk.Close)
	tb.Cleanup(bare.Close)
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}
	tb.Cleanup(tr.CloseIdleConnections)
	return sdk.URL + "/push", bare.URL + "/push", &http.Client{Transport: tr}
}

// BenchmarkPushHandler: PushHandler against the bare receiver, its ServeHTTP called directly and
// over loopback from 64 concurrent posters. Each push has a new sn, so none is a duplicate.
func BenchmarkPushHandler(b *testing.B) {
	gen := newPushGen()
	var handled atomic.Int64
	b.Run("direct", func(b *testing.B) {
		sdk, bare := directPush(sdkPushHandler(&handled), gen), directPush(http.HandlerFunc(barePush), gen)
		race(b, func(b *testing.B) { measure(b, 1, sdk) }, func(b *testing.B) { measure(b, 1, bare) })
	})
	b.Run("loopback=64", func(b *testing.B) {
		sdkURL, bareURL, hc := pushServers(b, sdkPushHandler(&handled))
		race(b, func(b *testing.B) { measure(b, 64, postPush(hc, sdkURL, gen)) },
			func(b *testing.B) { measure(b, 64, postPush(hc, bareURL, gen)) })
	})
}

// importContacts is the import measured: one full batch.
const importContacts = MaxImportRows

// importColumns are the columns of the import measured, and the keys of its contacts.
var importColumns = []string{"电话", "姓名", "地址", "公司名称", "备注"}

// importRequest returns a task of n contacts with a template's usual columns and Chinese text.
func importRequest(n int) *CreateTaskRequest {
	contacts := make([]Contact, n)
	for i := range contacts {
		contacts[i] = Contact{Phone: fmt.Sprintf("138%08d", i), Name: "张三",
			Fields: map[string]string{"地址": "深圳市南山区", "公司名称": "某某科技有限公司", "备注": "老客户"}}
	}
	cols := make(Columns, len(importColumns))
	for i, name := range importColumns {
		cols[i] = Column{Name: name, Required: i == 0}
	}
	return &CreateTaskRequest{Name: "回访任务", ProjectSN: "projects|d98f3c1a5e7b9d2f4a6c8e0b1d3f5a7c",
		SeatSN: "SYSUSER|317d5a0c2e8b4f6a9d1c3e5b7a9f0d2e", Contacts: contacts, Columns: cols}
}

// baseImportBody is the body of the import the hand-written way: the whole request encoded into
// one buffer, signed, url appended.
func baseImportBody(req *CreateTaskRequest) []byte {
	b := phpObject(make([]byte, 0, 64), append(common(), "project_sn", req.ProjectSN, "source", req.Name)...)
	b = append(b[:len(b)-1], `,"client_info_json":{"data":[`...)
	for i, ct := range req.Contacts {
		if i > 0 {
			b = append(b, ',')
		}
		b = phpObject(b, importColumns[0], ct.Phone, importColumns[1], ct.Name, importColumns[2], ct.Fields[importColumns[2]],
			importColumns[3], ct.Fields[importColumns[3]], importColumns[4], ct.Fields[importColumns[4]])
	}
	b = append(phpString(append(b, "]},"...), "ai_user_sn"), ':')
	b = append(phpString(b, req.SeatSN), '}')
	sig := baseSign(b)
	return append(append(append(b[:len(b)-1], `,"url":"`...), sig...), `"}`...)
}

// importBench returns a loopback server that accepts every import — it discards the body, or, with
// keep, remembers the last one — and both ways to import: ImportInBatches, and the hand-written
// client posting baseImportBody.
func importBench(tb testing.TB, req *CreateTaskRequest, keep bool) (sdk, base func() error, last func() []byte) {
	var mu sync.Mutex
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if keep {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			body = b
			mu.Unlock()
		} else {
			_, _ = io.Copy(io.Discard, r.Body)
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"code":0,"msg":"ok","data":{"dial_task_main_id":7,"dial_task_main_sn":"dial_task_main_sn|1427a04cae36a5b7161c0b04b9206fa4"}}`)
	}))
	tb.Cleanup(srv.Close)
	c, err := New(srv.URL, WithAPIKey(testUserSN, testAPIKey), WithHTTPClient(srv.Client()))
	require.NoError(tb, err)
	bc := &baseClient{hc: &http.Client{Transport: srv.Client().Transport, Timeout: DefaultTimeout}, base: srv.URL}
	ctx := tb.Context()
	sdk = func() error {
		res, err := c.Tasks.ImportInBatches(ctx, req)
		if err == nil && res.Sent != len(req.Contacts) {
			err = fmt.Errorf("sent %d of %d", res.Sent, len(req.Contacts))
		}
		return err
	}
	base = func() error {
		var reply struct {
			Code json.RawMessage `json:"code"`
			Data struct {
				ID int64  `json:"dial_task_main_id"`
				SN string `json:"dial_task_main_sn"`
			} `json:"data"`
		}
		err := bc.post(ctx, "/api/addJsonOfAsync", baseImportBody(req), &reply)
		if err == nil && (!okCode(reply.Code) || reply.Data.SN == "") {
			err = fmt.Errorf("code %s", reply.Code)
		}
		return err
	}
	last = func() []byte {
		mu.Lock()
		defer mu.Unlock()
		return body
	}
	return sdk, base, last
}

// BenchmarkImport: ImportInBatches of 30,000 contacts to a loopback server that discards them,
// against the hand-written client posting the same body. body-B/op is the size of the body, so that
// B/op ÷ body-B/op is what the SDK allocates per byte it sends.
func BenchmarkImport(b *testing.B) {
	req := importRequest(importContacts)
	sdk, base, _ := importBench(b, req, false)
	size := float64(len(baseImportBody(req)))
	race(b, func(b *testing.B) {
		measure(b, 1, sdk)
		b.ReportMetric(size, "body-B/op")
	}, func(b *testing.B) {
		measure(b, 1, base)
		b.ReportMetric(size, "body-B/op")
	})
}

// downloadSize is the recording BenchmarkDownload fetches.
const downloadSize = 64 << 20

// downloadBench returns a loopback server of a recording of size bytes and both ways to fetch it
// into io.Discard: Records.Download, and a signed GET by hand copied with io.Copy; and the last
// query the server saw.
func downloadBench(tb testing.TB, size int) (sdk, base func() error, query func() string) {
	file := bytes.Repeat([]byte("RIFF-wav-"), size/9+1)[:size]
	var last atomic.Pointer[string]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.RawQuery
		last.Store(&q)
		w.Header().Set("Content-Type", "audio/wav")
		w.Header().Set("Content-Length", strconv.Itoa(len(file)))
		_, _ = w.Write(file)
	}))
	tb.Cleanup(srv.Close)
	c, err := New(srv.URL, WithAPIKey(testUserSN, testAPIKey), WithHTTPClient(srv.Client()))
	require.NoError(tb, err)
	hc, ctx := &http.Client{Transport: srv.Client().Transport, Timeout: DefaultTimeout}, tb.Context()
	got := func(n int64, err error) error {
		if err == nil && n != int64(size) {
			err = fmt.Errorf("got %d bytes of %d", n, size)
		}
		return err
	}
	sdk = func() error { return got(c.Records.Download(ctx, "/data/record", "2024/10/08/a.wav", io.Discard)) }
	base = func() error {
		kv := append(common(), "recordpath", "/data/record", "recordfile", "2024/10/08/a.wav")
		q := make([]byte, 0, 256)
		for i := 0; i < len(kv); i += 2 {
			q = append(append(append(q, kv[i]...), '='), strings.ReplaceAll(url.QueryEscape(kv[i+1]), "+", "%20")...)
			q = append(q, '&')
		}
		q = append(append(q, "url="...), baseSign(phpObject(nil, kv...))...)
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/cdrDownload?"+string(q), nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", DefaultUserAgent)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer func() { _ = resp.Body.Close() }()
		return got(io.Copy(io.Discard, resp.Body))
	}
	query = func() string {
		if q := last.Load(); q != nil {
			return *q
		}
		return ""
	}
	return sdk, base, query
}

// BenchmarkDownload: a 64 MiB recording through Records.Download into io.Discard, against a signed
// GET by hand copied with io.Copy.
func BenchmarkDownload(b *testing.B) {
	sdk, base, _ := downloadBench(b, downloadSize)
	race(b, func(b *testing.B) { measure(b, 1, sdk) }, func(b *testing.B) { measure(b, 1, base) })
}

// TestBenchHTTPBaselines checks that each HTTP baseline does the SDK's work: the same request bytes
// and headers, the same items read, every push handled.
func TestBenchHTTPBaselines(t *testing.T) {
	t.Run("round trips: the hand-written client sends what the SDK sends", func(t *testing.T) {
		type seen struct {
			header http.Header
			body   string
		}
		var mu sync.Mutex
		var got []seen
		replies := platformReplies()
		hb := newHTTPBench(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			got = append(got, seen{r.Header.Clone(), string(b)})
			mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(b))
			replies.ServeHTTP(w, r)
		}))
		for _, call := range []func() error{hb.sdkTemplates, hb.baseTemplates, hb.sdkRecords, hb.baseRecords} {
			require.NoError(t, call())
		}
		require.Len(t, got, 4)
		for i := 0; i < 4; i += 2 {
			assert.Equal(t, got[i].header, got[i+1].header)
			assert.Equal(t, got[i].body, got[i+1].body)
		}
		refused := newHTTPBench(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"code":"20005","msg":"api_key expired"}`)
		}))
		require.ErrorContains(t, refused.baseTemplates(), `code "20005"`, "the hand-written client checks the code")
		require.ErrorContains(t, refused.baseRecords(), `code "20005"`)
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
	t.Run("import: the same body", func(t *testing.T) {
		req := importRequest(100)
		sdk, base, last := importBench(t, req, true)
		require.NoError(t, sdk())
		sent := slices.Clone(last())
		require.NoError(t, base())
		assert.True(t, bytes.Equal(sent, last()), "the hand-written body differs:\n%.300s\n%.300s", sent, last())
	})
	t.Run("download: the same query", func(t *testing.T) {
		sdk, base, query := downloadBench(t, 1<<20)
		require.NoError(t, sdk())
		q := query()
		require.NoError(t, base())
		assert.Equal(t, q, query())
	})
}
