package digelao

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/digelao-go/digelao/internal/flex"
	"github.com/digelao-go/digelao/internal/phpform"
	"github.com/digelao-go/digelao/internal/pushsample"
	"github.com/digelao-go/digelao/internal/testkit"
)

const (
	testPushToken = "s3cr3t-push-t0ken"
	testRecordSN  = "account|a6505ba3c1d94e7f8b2a0c6e4d8f1b3a"
)

// pushSink makes a PushHandler whose callbacks count their calls and keep what they got.
type pushSink struct {
	mu      sync.Mutex
	calls   []*CallRecord
	imports []*ImportResult
	stats   []*TaskAnalytics
	unknown [][]byte
	fail    error // returned by every callback when set
}

func (c *pushSink) handler() *PushHandler {
	return &PushHandler{
		OnCallRecord: func(_ context.Context, r *CallRecord) error { return c.keep(func() { c.calls = append(c.calls, r) }) },
		OnImportResult: func(_ context.Context, r *ImportResult) error {
			return c.keep(func() { c.imports = append(c.imports, r) })
		},
		OnTaskAnalytics: func(_ context.Context, a *TaskAnalytics) error {
			return c.keep(func() { c.stats = append(c.stats, a) })
		},
		OnUnknown: func(_ context.Context, b []byte) error { return c.keep(func() { c.unknown = append(c.unknown, b) }) },
	}
}

func (c *pushSink) keep(add func()) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	add()
	return c.fail
}

func (c *pushSink) total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls) + len(c.imports) + len(c.stats) + len(c.unknown)
}

// serve delivers body to h with contentType and returns the reply.
func servePush(h http.Handler, target, contentType string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestPushHandlerAnswersSUCCESS(t *testing.T) {
	t.Parallel()
	var c pushSink
	h := c.handler()
	h.Token = NewSecret(testPushToken)
	w := servePush(h, "/push?token="+testPushToken, "application/json", pushsample.CallRecord(testRecordSN, "15800000000"))
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "SUCCESS", w.Body.String(), "exactly SUCCESS: anything else makes the platform retry")
	assert.Equal(t, "text/plain; charset=utf-8", w.Header().Get("Content-Type"))
	require.Len(t, c.calls, 1)
	assert.Equal(t, testRecordSN, c.calls[0].SN)
}

// failingDedup is a DedupStore whose methods fail with err when set, recording their calls.
type failingDedup struct {
	claimErr, completeErr error
	state                 ClaimState
	mu                    sync.Mutex
	log                   []string
	ctxErrs               []error // the context's error at each Complete or Release
}

func (d *failingDedup) record(op string, ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.log = append(d.log, op)
	if op != "claim" {
		d.ctxErrs = append(d.ctxErrs, ctx.Err())
	}
}

func (d *failingDedup) Claim(ctx context.Context, _, _ string) (ClaimState, error) {
	d.record("claim", ctx)
	return d.state, d.claimErr
}

func (d *failingDedup) Renew(ctx context.Context, _, _ string) (bool, error) {
	d.record("renew", ctx)
	return true, nil
}

func (*failingDedup) ClaimTTL() time.Duration { return DefaultClaimTTL }

func (d *failingDedup) Complete(ctx context.Context, _, _ string) error {
	d.record("complete", ctx)
	return d.completeErr
}

func (d *failingDedup) Release(ctx context.Context, _, _ string) error {
	d.record("release", ctx)
	return nil
}

func TestPushHandlerRefusals(t *testing.T) {
	t.Parallel()
	record := pushsample.CallRecord(testRecordSN, "15800000000")
	tests := []struct {
		name   string
		method string
		target string
		body   []byte
		setup  func(*PushHandler)
		status int
		called int // callbacks run
	}{
		{name: "GET", method: http.MethodGet, status: http.StatusMethodNotAllowed},
		{name: "PUT", method: http.MethodPut, status: http.StatusMethodNotAllowed},
		{name: "no token", target: "/push", status: http.StatusUnauthorized},
		{name: "wrong token", target: "/push?token=" + testPushToken + "x", status: http.StatusUnauthorized},
		{name: "token prefix", target: "/push?token=" + testPushToken[:4], status: http.StatusUnauthorized},
		{name: "over the limit", body: bytes.Repeat([]byte("a"), 101), setup: func(h *PushHandler) { h.MaxBodyBytes = 100 },
			status: http.StatusRequestEntityTooLarge},
		{name: "empty body", body: []byte(" \n"), status: http.StatusBadRequest},
		{name: "truncated JSON", body: record[:len(record)/2], status: http.StatusBadRequest},
		{name: "truncated JSON list", body: []byte(`[{"sn":"x"}`), status: http.StatusBadRequest},
		{name: "JSON over MaxMembers", body: []byte(`{"sn":"a","x":[1,{"y":2}]}`), setup: func(h *PushHandler) { h.MaxMembers = 4 },
			status: http.StatusRequestEntityTooLarge},
		{name: "form over MaxMembers", body: []byte("sn=a&phone=1&&"), setup: func(h *PushHandler) { h.MaxMembers = 2 },
			status: http.StatusRequestEntityTooLarge}, // the empty piece is a field, as PHP counts it
		{name: "JSON in a form field over MaxMembers", body: []byte(`data={"sn":"a","phone":"1","x":2}`),
			setup: func(h *PushHandler) { h.MaxMembers = 2 }, status: http.StatusRequestEntityTooLarge},
		{name: "sn over 256 bytes", body: []byte(`{"sn":"` + strings.Repeat("a", 257) + `"}`), status: http.StatusBadRequest},
		{name: "sn with a lone surrogate", body: []byte(`{"sn":"acct|\ud800"}`), status: http.StatusBadRequest},
		{name: "unknown Charset", setup: func(h *PushHandler) { h.Charset = "latin1" }, status: http.StatusInternalServerError},
		{name: "unknown Charset on a GET", method: http.MethodGet, setup: func(h *PushHandler) { h.Charset = "big5" },
			status: http.StatusInternalServerError},
		{name: "callback error", setup: func(h *PushHandler) {
			h.OnCallRecord = func(context.Context, *CallRecord) error { return errors.New("database down") }
		}, status: http.StatusInternalServerError, called: 1},
		{name: "callback panic", setup: func(h *PushHandler) {
			h.OnCallRecord = func(context.Context, *CallRecord) error { panic("boom") }
		}, status: http.StatusInternalServerError, called: 1},
		{name: "no callback for the kind and no OnUnknown", setup: func(h *PushHandler) {
			h.OnCallRecord, h.OnUnknown = nil, nil
		}, status: http.StatusNotImplemented},
		{name: "dedup store error", setup: func(h *PushHandler) { h.Dedup = &failingDedup{claimErr: errors.New("redis down")} },
			status: http.StatusServiceUnavailable},
		{name: "in progress elsewhere", setup: func(h *PushHandler) { h.Dedup = &failingDedup{state: ClaimInProgress} },
			status: http.StatusServiceUnavailable},
		{name: "unexpected claim state", setup: func(h *PushHandler) { h.Dedup = &failingDedup{state: 42} },
			status: http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c pushSink
			h := c.handler()
			h.Token = NewSecret(testPushToken)
			called := 0
			if tt.setup != nil {
				tt.setup(h)
			}
			if on := h.OnCallRecord; on != nil {
				h.OnCallRecord = func(ctx context.Context, r *CallRecord) error { called++; return on(ctx, r) }
			}
			method, target, body := cmp.Or(tt.method, http.MethodPost), cmp.Or(tt.target, "/push?token="+testPushToken), tt.body
			if body == nil {
				body = record
			}
			r := httptest.NewRequest(method, target, bytes.NewReader(body))
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			assert.Equal(t, tt.status, w.Code)
			assert.NotContains(t, w.Body.String(), "SUCCESS")
			assert.Equal(t, tt.called, called+len(c.imports)+len(c.stats)+len(c.unknown), "callbacks run")
			if tt.status == http.StatusMethodNotAllowed && tt.setup == nil {
				assert.Equal(t, http.MethodPost, w.Header().Get("Allow"))
			}
		})
	}
}

func TestPushHandlerLimitWithoutContentLength(t *testing.T) {
	t.Parallel()
	var c pushSink
	h := c.handler()
	h.MaxBodyBytes = 64
	r := httptest.NewRequest(http.MethodPost, "/push", bytes.NewReader(pushsample.CallRecord(testRecordSN, "1")))
	r.ContentLength = -1 // chunked: the limit applies while reading
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	assert.Zero(t, c.total())
}

func TestPushHandlerNilBody(t *testing.T) {
	t.Parallel()
	var c pushSink
	r := httptest.NewRequest(http.MethodPost, "/push", nil)
	r.Body = nil // a hand-made request
	w := httptest.NewRecorder()
	c.handler().ServeHTTP(w, r)
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Zero(t, c.total())
}

func TestPushHandlerBodyFormats(t *testing.T) {
	t.Parallel()
	form := url.Values{"sn": {testRecordSN}, "phone": {"15800000000"}, "talktimes": {"35"},
		"created_at": {"2024-07-02 15:03:24"}, "custom_col": {"x"}}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	for k, v := range form {
		require.NoError(t, mw.WriteField(k, v[0]))
	}
	require.NoError(t, mw.Close())
	jsonField := url.Values{"data": {string(pushsample.CallRecord(testRecordSN, "15800000000"))}}.Encode()
	tests := []struct {
		name, contentType, body string
		extra                   bool // the record keeps custom_col in Extra
	}{
		{"JSON", "application/json", string(pushsample.CallRecord(testRecordSN, "15800000000")), false},
		{"JSON labelled as a form", "application/x-www-form-urlencoded", string(pushsample.CallRecord(testRecordSN, "15800000000")), false},
		{"JSON without a type", "", "\xef\xbb\xbf " + string(pushsample.CallRecord(testRecordSN, "15800000000")), false},
		{"form", "application/x-www-form-urlencoded", form.Encode(), true},
		{"form without a type", "", form.Encode(), true},
		{"form with a JSON field", "application/x-www-form-urlencoded", jsonField, false},
		{"percent-encoded JSON alone", "application/x-www-form-urlencoded", url.QueryEscape(string(pushsample.CallRecord(testRecordSN, "15800000000"))), false},
		{"multipart form", mw.FormDataContentType(), mp.String(), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c pushSink
			w := servePush(c.handler(), "/push", tt.contentType, []byte(tt.body))
			require.Equal(t, "SUCCESS", w.Body.String())
			require.Len(t, c.calls, 1)
			r := c.calls[0]
			assert.Equal(t, testRecordSN, r.SN)
			assert.Equal(t, "15800000000", r.Phone)
			assert.Equal(t, 35, r.TalkTime)
			assert.Equal(t, time.Date(2024, 7, 2, 15, 3, 24, 0, flex.China), r.CreatedAt)
			if b := bytes.TrimSpace(bytes.TrimPrefix([]byte(tt.body), []byte("\xef\xbb\xbf"))); b[0] == '{' {
				assert.Equal(t, string(b), string(r.Raw), "Raw is the JSON object as received")
			} else {
				assert.Equal(t, tt.body, string(r.Raw), "Raw is the form as received")
			}
			if tt.extra {
				assert.JSONEq(t, `"x"`, string(r.Extra["custom_col"]))
			}
		})
	}
}

func TestPushHandlerKinds(t *testing.T) {
	t.Parallel()
	const taskSN = "dial_task_main_sn|1427a04cae36a5b7161c0b04b9206fa4"
	counts := ImportCounts{Total: 3, Success: 1, Fail: 1, Repeat: 1, Empty: 2, OverLimit: 1}

	t.Run("import result with counters", func(t *testing.T) {
		t.Parallel()
		var c pushSink
		body := importPush(taskSN, "", counts)
		require.Equal(t, "SUCCESS", servePush(c.handler(), "/", "application/json", body).Body.String())
		require.Len(t, c.imports, 1)
		assert.Equal(t, &ImportResult{TaskSN: taskSN, Counts: counts, Raw: body}, c.imports[0])
	})
	t.Run("documented import sample", func(t *testing.T) {
		t.Parallel()
		var c pushSink
		body := `{"dial_task_main_sn":"dial_task_main_sn|1427a04cae36a5b7161c0b04b9206fa4","import_mark":{"totalCount":1,"failCount":1,"blacklistCount":0,"repeatCount":0,"successCount":0,"filterCount":0,"shiCount":0,"kongCount":0,"tingjiCount":0,"kuwuCount":0,"chenmoCount":0,"fenxianCount":0,"chaopinCount":0}}`
		servePush(c.handler(), "/", "application/json", []byte(body))
		require.Len(t, c.imports, 1)
		assert.Equal(t, ImportCounts{Total: 1, Fail: 1}, c.imports[0].Counts)
	})
	for name, mark := range map[string]string{
		"import failure as a string":  `"导入文件为空"`,
		"import failure as a number":  `30001`,
		"import counters as a string": `"{\"totalCount\":\"3\",\"successCount\":1}"`,
		"import_mark null":            `null`,
		"import_mark empty PHP array": `[]`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var c pushSink
			servePush(c.handler(), "/", "", []byte(`{"dial_task_main_sn":"`+taskSN+`","import_mark":`+mark+`}`))
			require.Len(t, c.imports, 1)
			got := c.imports[0]
			assert.Equal(t, taskSN, got.TaskSN)
			switch name {
			case "import failure as a string":
				assert.Equal(t, "导入文件为空", got.Failure)
			case "import failure as a number":
				assert.Equal(t, "30001", got.Failure)
			case "import counters as a string":
				assert.Equal(t, ImportCounts{Total: 3, Success: 1}, got.Counts)
				assert.Empty(t, got.Failure)
			default:
				assert.Equal(t, ImportResult{TaskSN: taskSN, Raw: got.Raw}, *got)
			}
		})
	}
	t.Run("import result as a PHP form", func(t *testing.T) {
		t.Parallel()
		var c pushSink
		body := "dial_task_main_sn=" + url.QueryEscape(taskSN) + "&import_mark%5BtotalCount%5D=3&import_mark%5BsuccessCount%5D=1&import_mark%5BkongCount%5D=2"
		servePush(c.handler(), "/", "application/x-www-form-urlencoded", []byte(body))
		require.Len(t, c.imports, 1)
		assert.Equal(t, ImportCounts{Total: 3, Success: 1, Empty: 2}, c.imports[0].Counts)
	})
	t.Run("task analytics", func(t *testing.T) {
		t.Parallel()
		var c pushSink
		body := pushsample.TaskAnalytics(taskSN)
		require.Equal(t, "SUCCESS", servePush(c.handler(), "/", "application/json", body).Body.String())
		require.Len(t, c.stats, 1)
		a := c.stats[0]
		assert.Equal(t, AnalyticsTask{TaskSN: taskSN, Source: "回访任务", ProjectSN: "projects|d98f3c1a5e7b9d2f4a6c8e0b1d3f5a7c",
			ProjectCaption: "zzh移动催缴固定话术", Status: TaskFinished, Total: 15, Sent: 15, Success: 8, Operator: "test", UserName: "test",
			StartedAt: time.Date(2019, 7, 24, 15, 37, 40, 0, flex.China), StoppedAt: time.Date(2019, 9, 11, 13, 59, 2, 0, flex.China)}, a.Task)
		assert.Equal(t, []HangUpStat{{Node: "01打招呼+开场白", Count: 5, Rate: 83.33}}, a.HangUps)
		assert.Equal(t, []string{"就是咨询,谢谢。"}, a.Unmatched)
		assert.Equal(t, body, []byte(a.Raw))
	})
	for name, body := range map[string]string{
		"object of no known kind":         `{"event":"ping","n":1}`,
		"JSON list":                       `[{"sn":"account|1"},{"sn":"account|2"}]`,
		"JSON string":                     `"hello"`,
		"plain text":                      `hello`,
		"call record whose sn is no text": `{"sn":{"a":1},"phone":"13800138000"}`,
		"import with object task":         `{"dial_task_main_sn":{"a":1},"import_mark":{}}`,
		"analytics of the wrong shape":    `{"dial_task_main_data":[1,2]}`,
	} {
		t.Run("unknown: "+name, func(t *testing.T) {
			t.Parallel()
			var c pushSink
			w := servePush(c.handler(), "/", "application/json", []byte(body))
			assert.Equal(t, "SUCCESS", w.Body.String())
			require.Len(t, c.unknown, 1)
			assert.Equal(t, body, string(c.unknown[0]), "the exact bytes")
			assert.Equal(t, 1, c.total())
		})
	}
}

func TestPushHandlerNilCallbackFallsBackToOnUnknown(t *testing.T) {
	t.Parallel()
	for name, body := range map[string][]byte{
		"call record":    pushsample.CallRecord(testRecordSN, "1"),
		"import result":  importPush("t", "x", ImportCounts{}),
		"task analytics": pushsample.TaskAnalytics("t"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var got [][]byte
			h := &PushHandler{OnUnknown: func(_ context.Context, b []byte) error { got = append(got, b); return nil }}
			assert.Equal(t, "SUCCESS", servePush(h, "/", "application/json", body).Body.String())
			assert.Equal(t, [][]byte{body}, got)

			h = &PushHandler{OnUnknown: nil}
			assert.Equal(t, http.StatusNotImplemented, servePush(h, "/", "application/json", body).Code, "never acknowledged unhandled")
		})
	}
}

func TestPushHandlerDeduplicatesCallRecords(t *testing.T) {
	t.Parallel()
	var c pushSink
	h := c.handler()
	for range 3 {
		assert.Equal(t, "SUCCESS", servePush(h, "/", "application/json", pushsample.CallRecord(testRecordSN, "1")).Body.String())
	}
	assert.Len(t, c.calls, 1, "a duplicate is acknowledged without calling back")

	// Without sn, id is the key.
	for range 2 {
		servePush(h, "/", "", []byte(`{"id":"77","phone":"1"}`))
	}
	assert.Len(t, c.calls, 2)
	servePush(h, "/", "", []byte(`{"id":78,"phone":"1"}`))
	assert.Len(t, c.calls, 3)

	// Without either, its content is the key: the same push again is a duplicate, another is not.
	servePush(h, "/", "", []byte(`{"phone":"1"}`))
	servePush(h, "/", "", []byte(`{"phone":"1"}`))
	assert.Len(t, c.calls, 4)
	servePush(h, "/", "", []byte(`{"phone":"2"}`))
	assert.Len(t, c.calls, 5)

	// Import results are not de-duplicated: the same bytes may be a new import into the task.
	imp := importPush("t", "", ImportCounts{Total: 1, Success: 1})
	servePush(h, "/", "", imp)
	servePush(h, "/", "", imp)
	assert.Len(t, c.imports, 2)
}

func TestPushHandlerRedeliveryAfterFailure(t *testing.T) {
	t.Parallel()
	for name, fail := range map[string]func() error{
		"error": func() error { return errors.New("disk full") },
		"panic": func() error { panic("bug") },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			h := &PushHandler{OnCallRecord: func(context.Context, *CallRecord) error {
				calls++
				if calls == 1 {
					return fail()
				}
				return nil
			}}
			body := pushsample.CallRecord(testRecordSN, "1")
			assert.Equal(t, http.StatusInternalServerError, servePush(h, "/", "", body).Code)
			assert.Equal(t, "SUCCESS", servePush(h, "/", "", body).Body.String(), "the redelivery is handled")
			assert.Equal(t, "SUCCESS", servePush(h, "/", "", body).Body.String())
			assert.Equal(t, 2, calls)
		})
	}
}

func TestPushHandlerSettlesTheClaimAfterTheRequestEnds(t *testing.T) {
	t.Parallel()
	for _, fail := range []bool{false, true} {
		d := &failingDedup{}
		h := &PushHandler{Dedup: d, OnCallRecord: func(context.Context, *CallRecord) error {
			if fail {
				return errors.New("x")
			}
			return nil
		}}
		ctx, cancel := context.WithCancel(context.Background())
		r := pushRequest("/", pushsample.CallRecord(testRecordSN, "1")).WithContext(ctx)
		h.OnCallRecord = func(base func(context.Context, *CallRecord) error) func(context.Context, *CallRecord) error {
			return func(ctx context.Context, rec *CallRecord) error { cancel(); return base(ctx, rec) } // the platform hung up
		}(h.OnCallRecord)
		h.ServeHTTP(httptest.NewRecorder(), r)
		want := []string{"claim", "complete"}
		if fail {
			want = []string{"claim", "release"}
		}
		assert.Equal(t, want, d.log)
		assert.Equal(t, []error{nil}, d.ctxErrs, "Complete/Release run on a live context")
	}
}

// lateReplyDedup is a shared store whose Claim takes effect but, like a network store whose
// reply comes after the context ended, then reports the context's error.
type lateReplyDedup struct{ *MemoryDedup }

func (d lateReplyDedup) Claim(ctx context.Context, key, token string) (ClaimState, error) {
	state, err := d.MemoryDedup.Claim(ctx, key, token)
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return state, err
}

func TestPushHandlerClaimOutlivesAHangUp(t *testing.T) {
	t.Parallel()
	var handled atomic.Int32
	h := &PushHandler{Dedup: lateReplyDedup{MemDedup(t, 10)}, OnCallRecord: func(ctx context.Context, _ *CallRecord) error {
		if err := ctx.Err(); err != nil {
			return err // e.g. a database write under the request's context
		}
		handled.Add(1)
		return nil
	}}
	body := pushsample.CallRecord(testRecordSN, "1")
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the platform hung up before the handler claimed the record
	w := httptest.NewRecorder()
	h.ServeHTTP(w, pushRequest("/", body).WithContext(ctx))
	assert.NotEqual(t, http.StatusOK, w.Code)
	w = servePush(h, "/", "", body)
	assert.Equal(t, "SUCCESS", w.Body.String(), "the redelivery is handled, not refused as in progress")
	assert.Equal(t, int32(1), handled.Load())
}

func TestPushHandlerCompleteErrorStillAcknowledges(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	h := &PushHandler{Dedup: &failingDedup{completeErr: errors.New("redis down")},
		Logger:       slog.New(slog.NewTextHandler(&logs, nil)),
		OnCallRecord: func(context.Context, *CallRecord) error { return nil }}
	w := servePush(h, "/", "", pushsample.CallRecord(testRecordSN, "1"))
	assert.Equal(t, "SUCCESS", w.Body.String(), "the record was handled: acknowledging it loses nothing")
	assert.Contains(t, logs.String(), "delivered but not recorded as delivered")
}

func TestPushHandlerConcurrentDuplicates(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	h := &PushHandler{OnCallRecord: func(context.Context, *CallRecord) error {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
		}
		return nil
	}}
	body := pushsample.CallRecord(testRecordSN, "1")
	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- servePush(h, "/", "", body) }()
	<-entered

	deliverAll := func() []int {
		codes := make([]int, 8)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Go(func() { codes[i] = servePush(h, "/", "", body).Code })
		}
		wg.Wait()
		return codes
	}
	for _, code := range deliverAll() {
		assert.Equal(t, http.StatusServiceUnavailable, code, "not acknowledged before it is stored")
	}
	close(release)
	assert.Equal(t, "SUCCESS", (<-first).Body.String())
	for _, code := range deliverAll() {
		assert.Equal(t, http.StatusOK, code)
	}
	assert.Equal(t, int32(1), calls.Load())
}

func TestPushHandlerZeroValueUnderConcurrency(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	h := &PushHandler{OnCallRecord: func(context.Context, *CallRecord) error { calls.Add(1); return nil }}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			sn := "account|" + strings.Repeat(string(rune('a'+i%4)), 32)
			for { // redeliver until acknowledged, as the platform does
				if servePush(h, "/", "", pushsample.CallRecord(sn, "1")).Code == http.StatusOK {
					return
				}
				runtime.Gosched()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int32(4), calls.Load(), "each of the 4 records handled once")
}

func TestPushHandlerNeverLogsTheToken(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var c pushSink
	h := c.handler()
	h.Token = NewSecret(testPushToken)
	h.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c.fail = errors.New("callback failed")
	body := pushsample.CallRecord(testRecordSN, "1")
	servePush(h, "/push?token="+testPushToken, "", body)
	servePush(h, "/push?token="+testPushToken+"x", "", body)
	servePush(h, "/push?token="+testPushToken, "", []byte("{"))
	require.NotEmpty(t, logs.String())
	assert.NotContains(t, logs.String(), testPushToken[:8])
	assert.Contains(t, logs.String(), "callback failed")
}

// Each line about a push names the request (path and remote address, never the query, which holds
// the token) and, once it is decoded, the push: its kind, and a call record's key, sn and id.
func TestPushHandlerLogLinesNameThePush(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var c pushSink
	h := c.handler()
	h.Token = NewSecret(testPushToken)
	h.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	body := pushsample.CallRecord(testRecordSN, "1")
	ev, err := decodePush("", charsetAuto, body, 0)
	require.NoError(t, err)
	key := ev.dedupKey()
	serve := func(target string, body []byte) []string {
		logs.Reset()
		r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
		r.RemoteAddr = "192.0.2.7:4000"
		h.ServeHTTP(httptest.NewRecorder(), r)
		return strings.Split(strings.TrimSpace(logs.String()), "\n")
	}
	const request = "path=/push remote=192.0.2.7:4000"

	lines := serve("/push?token=x", body)
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], `msg="digelao: push refused" `+request+" status=401 reason=")
	assert.NotContains(t, lines[0], "kind=", "not decoded")

	c.fail = errors.New("crm down")
	lines = serve("/push?token="+testPushToken, body)
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], `msg="digelao: push callback failed" `+request+" kind=call_record key="+key+
		" sn="+testRecordSN+" id=12003 error=\"crm down\"")

	c.fail = nil
	serve("/push?token="+testPushToken, body)
	lines = serve("/push?token="+testPushToken, body)
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], `msg="digelao: duplicate push acknowledged" `+request+" kind=call_record key="+key)

	lines = serve("/push?token="+testPushToken, []byte(`{"dial_task_main_sn":"t","import_mark":1,"x":`))
	require.Len(t, lines, 1)
	assert.Contains(t, lines[0], `msg="digelao: push refused" `+request+" status=400 error=")
	assert.NotContains(t, logs.String(), testPushToken[:8])
}

func TestPushHandlerNeverPrintsTheToken(t *testing.T) {
	t.Parallel()
	h := &PushHandler{Token: NewSecret(testPushToken), OnUnknown: func(context.Context, []byte) error { return nil }}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		assert.NotContains(t, fmt.Sprintf(verb, h), testPushToken[:8], verb)
	}
	servePush(h, "/push?token="+testPushToken, "", []byte(`{}`)) // after the first request too
	assert.NotContains(t, fmt.Sprintf("%+v", h), testPushToken[:8])
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("x", "handler", h)
	assert.NotContains(t, logs.String(), testPushToken[:8])
}

func TestPushTolerantDecoding(t *testing.T) {
	t.Parallel()
	china := func(y int, mo time.Month, d, h, mi, s int) time.Time {
		return time.Date(y, mo, d, h, mi, s, 0, flex.China)
	}
	tests := []struct {
		name string
		body string
		want func(*testing.T, *CallRecord)
	}{
		{"numbers as strings", `{"sn":"s","id":"12003","talktimes":"35","score":"4.5","is_transfertoagent":"1"}`,
			func(t *testing.T, r *CallRecord) {
				assert.Equal(t, int64(12003), r.ID)
				assert.Equal(t, 35, r.TalkTime)
				assert.InEpsilon(t, 4.5, r.Score, 1e-9)
				assert.True(t, r.TransferredToAgent)
			}},
		{"strings as numbers", `{"sn":"s","phone":15800000000,"status_manual":1}`,
			func(t *testing.T, r *CallRecord) {
				assert.Equal(t, "15800000000", r.Phone)
				assert.Equal(t, "1", r.StatusManual)
			}},
		{"nulls and empties", `{"sn":"s","id":null,"name":null,"unit_phone":null,"talktimes":"","connected_at":null,"pushed_at":"","listened_at":"0000-00-00 00:00:00"}`,
			func(t *testing.T, r *CallRecord) {
				assert.Zero(t, r.ID)
				assert.Empty(t, r.Name)
				assert.Zero(t, r.TalkTime)
				assert.True(t, r.ConnectedAt.IsZero())
				assert.True(t, r.PushedAt.IsZero())
				assert.True(t, r.ListenedAt.IsZero())
				assert.False(t, r.Connected())
			}},
		{"China time", `{"sn":"s","created_at":"2024-07-02 15:03:24","connected_at":"2024-07-02","disconnected_at":1719903804}`,
			func(t *testing.T, r *CallRecord) {
				assert.Equal(t, china(2024, 7, 2, 15, 3, 24), r.CreatedAt)
				assert.Equal(t, "2024-07-02T07:03:24Z", r.CreatedAt.UTC().Format(time.RFC3339))
				assert.Equal(t, china(2024, 7, 2, 0, 0, 0), r.ConnectedAt)
				assert.True(t, r.DisconnectedAt.Equal(china(2024, 7, 2, 15, 3, 24)))
			}},
		{"unknown members kept", `{"sn":"s","客户等级":"VIP","fs_push_screens":2,"nested":{"a":[1]}}`,
			func(t *testing.T, r *CallRecord) {
				assert.JSONEq(t, `"VIP"`, string(r.Extra["客户等级"]))
				assert.Equal(t, 2, r.ScreenPop)
				assert.JSONEq(t, `{"a":[1]}`, string(r.Extra["nested"]))
			}},
		{"values that do not fit kept", `{"sn":"s","created_at":"yesterday","talktimes":"12.5"}`,
			func(t *testing.T, r *CallRecord) {
				assert.True(t, r.CreatedAt.IsZero())
				assert.Zero(t, r.TalkTime)
				assert.JSONEq(t, `"yesterday"`, string(r.Extra["created_at"]))
				assert.JSONEq(t, `"12.5"`, string(r.Extra["talktimes"]))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ev, err := decodePush("application/json", charsetAuto, []byte(tt.body), 0)
			require.NoError(t, err)
			require.NoError(t, ev.err)
			require.NotNil(t, ev.call)
			assert.JSONEq(t, tt.body, string(ev.call.Raw))
			tt.want(t, ev.call)
		})
	}
}

// TestPushMemoryBound pushes bodies of every shape that costs memory per member — members, list
// elements, empty containers, form fields, nested form names, GBK text — and checks the bytes each
// push allocates (the test's copy of the body included): a 1 MiB push past MaxMembers is refused
// within 5 MiB (a JSON push of 100k members allocated 18 MiB before the bound, one of 350k empty
// objects 65 MiB), and one at the bounds stays within the ceiling the README states: 16 MiB, 32 MiB
// for a form in GBK. Not parallel: it reads the process's allocation counter.
func TestPushMemoryBound(t *testing.T) {
	const body = defaultPushBodyBytes
	pad := strings.Repeat("x", 90)
	fill := func(head, tail string, each func(i int) string) string {
		var b strings.Builder
		b.WriteString(head)
		for i := 0; b.Len() < body-len(tail)-512; i++ {
			b.WriteString(each(i))
		}
		return b.String() + tail
	}
	upTo := func(n int, head, tail string, each func(i int) string) string {
		var b strings.Builder
		b.WriteString(head)
		for i := range n {
			b.WriteString(each(i))
		}
		return b.String() + tail
	}
	json, form := "application/json", "application/x-www-form-urlencoded"
	name := gbk(t, "张三李四王五赵六")
	tests := []struct {
		name, contentType, body string
		refused                 bool
		ceiling                 uint64 // MiB allocated
	}{
		{"JSON members", json, fill(`{"sn":"a","phone":"1"`, `}`, func(i int) string { return fmt.Sprintf(`,"k%d":1`, i) }), true, 5},
		{"JSON empty objects", json, fill(`{"dial_task_main_data":{},"hang_up_data":[{}`, `]}`, func(int) string { return `,{}` }), true, 5},
		{"JSON strings", json, fill(`{"dial_task_main_data":{},"out_of_key_data":[""`, `]}`, func(int) string { return `,""` }), true, 5},
		{"form fields", form, fill("sn=a", "", func(int) string { return "&" }), true, 5},
		{"form arrays", form, fill("sn=a", "", func(i int) string { return fmt.Sprintf("&a[%d][x][y][z]=1", i) }), true, 5},
		{"JSON members at the bound", json, upTo(defaultPushMembers-2, `{"sn":"a","phone":"1"`, `}`,
			func(i int) string { return fmt.Sprintf(`,"k%d":"%s"`, i, pad) }), false, 16},
		{"JSON hang-ups at the bound", json, upTo(defaultPushMembers/4-1, `{"dial_task_main_data":{},"hang_up_data":[{}`, `]}`,
			func(int) string { return `,{"hangUpName":"` + pad + pad + pad + `","hangUpCount":1,"hangUpRate":1}` }), false, 16},
		{"form fields at the bound", form, upTo(defaultPushMembers-2, "sn=a&phone=1", "",
			func(i int) string { return fmt.Sprintf("&k%d=%s", i, strings.Repeat("%E5%BC%A0", 10)) }), false, 16},
		{"short form fields at the bound", form, upTo(defaultPushMembers-2, "sn=a&phone=1", "",
			func(i int) string { return fmt.Sprintf("&k%d=", i) }), false, 16},
		{"form arrays at the bound", form, upTo(defaultPushMembers/3-1, "sn=a&phone=1", "",
			func(i int) string { return fmt.Sprintf("&a[%d][%s]=%s", i, pad, pad+pad) }), false, 16},
		{"GBK form fields at the bound", form, upTo(defaultPushMembers-2, "sn=a&phone=1", "",
			func(i int) string { return fmt.Sprintf("&k%d=%s", i, url.QueryEscape(name+name)) }), false, 32},
		{"short GBK form fields at the bound", form, upTo(defaultPushMembers-3, "sn=a&phone=1&name="+url.QueryEscape(name), "",
			func(i int) string { return fmt.Sprintf("&k%d=", i) }), false, 32},
	}
	for _, tt := range tests {
		require.LessOrEqual(t, len(tt.body), body, tt.name)
		var c pushSink
		h := c.handler()
		servePush(h, "/", tt.contentType, pushsample.CallRecord(testRecordSN, "1")) // the handler's first use
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		w := servePush(h, "/", tt.contentType, []byte(tt.body))
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%-34s %4d KiB: %d, %4.1f MiB allocated", tt.name, len(tt.body)>>10, w.Code, float64(alloc)/(1<<20))
		if tt.refused {
			assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code, tt.name)
		} else {
			assert.Equal(t, "SUCCESS", w.Body.String(), tt.name)
		}
		ceiling := tt.ceiling << 20
		if testkit.RaceBuild() {
			ceiling += 4 << 20 // the race detector's instrumentation allocates too
		}
		assert.LessOrEqual(t, alloc, ceiling, tt.name)
	}
}

// A form push is read as PHP reads $_POST: the JSON it becomes is, byte for byte, PHP's
// json_encode($_POST), which the PHP judge answers with; and the event it makes is the one that
// JSON makes pushed as it is.
func TestPushFormReadAsPHP(t *testing.T) {
	t.Parallel()
	judge := testkit.ServePHP(t, "testdata/php/judge.php")
	const ct = "application/x-www-form-urlencoded"
	forms := []struct{ body, kind string }{
		{"sn=a&phone=1&phone=2&sn=b", "call_record"},                                                // the last value wins
		{"sn=a&phone=1&ids[]=1&ids[]=2&m[x]=1&m[y][z]=2&m[y][]=3", "call_record"},                   // arrays nest
		{"sn=a&phone=1&talk.times=3&a+b=1&c[d.e]=2&f.g[h=3", "call_record"},                         // '.' and ' ' in a name are '_'
		{"sn=a&phone=1&x[=1&y[a]b=2&[z]=3&=4&&", "call_record"},                                     // unbalanced brackets, no name
		{"sn=%zz&phone=%41%4&name=%E5%BC%A0%E4%B8%89/x", "call_record"},                             // urldecode keeps what is no escape
		{"sn=a&phone=1&sn[]=b", "unknown"},                                                          // an sn that is an array: no record
		{"s+n=a&phone=1", "call_record"},                                                            // "s_n": not the sn
		{"dial_task_main.sn=t&import_mark[totalCount]=3&import_mark[kongCount]=2", "import_result"}, // as PHP names it
		{"sn=a&phone=1&k" + strings.Repeat("[x]", phpform.MaxNesting+1) + "=deep&k[y]=1", "call_record"},
		{"0=a&1=b", "unknown"}, {"=x", "unknown"}, // no named field
	}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, tt := range forms {
		form := tt.body
		resp, err := hc.Post(judge+"/api/index", ct, strings.NewReader(form))
		require.NoError(t, err)
		var reply struct{ Data struct{ JSON string } }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&reply))
		_ = resp.Body.Close()
		php := reply.Data.JSON

		pb, err := pushObject(ct, charsetAuto, []byte(form), 0)
		require.NoError(t, err, form)
		if php[0] == '[' {
			assert.Nil(t, pb, "a $_POST without names is no object: %s", form)
			ev, err := decodePush(ct, charsetAuto, []byte(form), 0)
			require.NoError(t, err)
			assert.Equal(t, tt.kind, ev.kind(), form)
			continue
		}
		require.NotNil(t, pb, form)
		assert.Equal(t, php, string(pb.obj), form)

		got, err := decodePush(ct, charsetAuto, []byte(form), 0)
		require.NoError(t, err, form)
		assert.Equal(t, tt.kind, got.kind(), form)
		want, err := decodePush("application/json", charsetAuto, []byte(php), 0)
		require.NoError(t, err, form)
		for _, ev := range []*pushEvent{got, want} {
			switch {
			case ev.call != nil:
				ev.call.Raw = nil
			case ev.imp != nil:
				ev.imp.Raw = nil
			}
		}
		assert.Equal(t, want, got, form)
	}
}

// A multipart push is read as PHP fills $_POST from it: a part with a filename parameter, even an
// empty one, is a file (PHP puts it in $_FILES); a part's name counts whatever its disposition's
// type; and its bytes are kept as sent, no Content-Transfer-Encoding undone.
func TestPushMultipartReadAsPHP(t *testing.T) {
	t.Parallel()
	judge := testkit.ServePHP(t, "testdata/php/judge.php")
	const boundary = "XX"
	ct := "multipart/form-data; boundary=" + boundary
	part := func(disposition, headers, value string) string {
		return "--" + boundary + "\r\nContent-Disposition: " + disposition + "\r\n" + headers + "\r\n" + value + "\r\n"
	}
	bodies := []string{
		part(`form-data; name="sn"`, "", "acct|1") + part(`form-data; name="phone"`, "", "1") +
			part(`form-data; name="sn"; filename=""`, "", "acct|2"),
		part(`form-data; name="sn"`, "", "acct|1") + part(`form-data; name="phone"`, "", "1") +
			part(`form-data; name="note"`, "Content-Transfer-Encoding: quoted-printable\r\n", "a=3Db=\r\nc"),
		part(`form-data; name="sn"`, "", "acct|1") + part(`attachment; name="phone"`, "", "1") +
			part(`form-data; name="x.y[a][]"`, "", "1") + part(`form-data; name=x.y[a][]`, "", "2"),
	}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, body := range bodies {
		body += "--" + boundary + "--\r\n"
		resp, err := hc.Post(judge+"/api/index", ct, strings.NewReader(body))
		require.NoError(t, err)
		var reply struct{ Data struct{ JSON string } }
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&reply))
		_ = resp.Body.Close()

		pb, err := pushObject(ct, charsetAuto, []byte(body), 0)
		require.NoError(t, err, body)
		require.NotNil(t, pb, body)
		assert.Equal(t, reply.Data.JSON, string(pb.obj), "%q", body)
	}
}

// A multipart push cut short — in a part's headers or data, right after a boundary, or before its
// close delimiter — is refused, not read as the parts before the cut: the fields it lost could be
// the ones that matter, and its record, marked delivered, would keep the sweep's whole copy out.
func TestPushMultipartCutShortIsRefused(t *testing.T) {
	t.Parallel()
	const ct = "multipart/form-data; boundary=XX"
	whole := "--XX\r\nContent-Disposition: form-data; name=\"sn\"\r\n\r\nacct|1\r\n" +
		"--XX\r\nContent-Disposition: form-data; name=\"phone\"\r\n\r\n138\r\n--XX--\r\n"
	phone := strings.Index(whole, "--XX\r\nContent-Disposition: form-data; name=\"phone\"")
	for _, end := range []int{phone + len("--XX"), phone + len("--XX\r\nContent-Disposition"),
		phone + len("--XX\r\nContent-Disposition: form-data; name=\"phone\"\r\n\r\n1"),
		len(whole) - len("--\r\n"), len(whole) - len("\r\n--XX--\r\n")} {
		_, err := pushObject(ct, charsetAuto, []byte(whole[:end]), 0)
		assert.Error(t, err, "%q", whole[:end])
	}
	pb, err := pushObject(ct, charsetAuto, []byte(strings.TrimSuffix(whole, "\r\n")), 0)
	require.NoError(t, err)
	assert.JSONEq(t, `{"sn":"acct|1","phone":"138"}`, string(pb.obj))
}

// MaxMembers bounds a push's members and elements at every depth, or a form's fields and the
// arrays they open, whatever the shape; commas, braces and brackets inside strings are not members.
func TestPushMaxMembers(t *testing.T) {
	t.Parallel()
	repeat := func(head, each, tail string, n int) string {
		return head + strings.Repeat(each, n) + tail
	}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	require.NoError(t, mw.WriteField("sn", "a"))
	for range 3 {
		require.NoError(t, mw.WriteField("x[]", "1"))
	}
	fw, err := mw.CreateFormFile("f", "f.txt") // a file is no field, as in PHP
	require.NoError(t, err)
	_, _ = io.WriteString(fw, "sn=b")
	require.NoError(t, mw.Close())
	tests := []struct {
		name, contentType, body string
		members                 int // what the push holds
	}{
		{"flat", "application/json", repeat(`{"sn":"a"`, `,"k":1`, `}`, 9), 10},
		{"list", "application/json", repeat(`{"sn":"a","x":[0`, `,0`, `]}`, 8), 11},
		{"empty containers", "", repeat(`{"sn":"a","x":[{}`, `,[]`, `]}`, 8), 11},
		{"nested", "", `{"sn":"a","x":{"y":[1,{"z":[]}]},"e":{}}`, 7},
		{"text with , { [", "", `{"sn":"a,{[\",[{","phone":"[1,2]"}`, 2},
		{"form", "application/x-www-form-urlencoded", repeat("sn=a", "&x[]=1", "", 9), 11}, // 10 fields, 1 array
		{"form, nested", "", "sn=a&x[a][b][]=1&x[a][c]=2&&", 7},                            // 4 fields, 3 arrays
		{"form, too deep", "", "sn=a&x" + strings.Repeat("[a]", phpform.MaxNesting+1) + "=1", 2 + phpform.MaxNesting},
		{"multipart", mw.FormDataContentType(), mp.String(), 5}, // 4 fields, 1 array
	}
	for _, tt := range tests {
		for _, limit := range []int{tt.members - 1, tt.members} {
			var c pushSink
			h := c.handler()
			h.MaxMembers = limit
			w := servePush(h, "/", tt.contentType, []byte(tt.body))
			if limit < tt.members {
				assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code, "%s, limit %d", tt.name, limit)
				assert.Zero(t, c.total(), tt.name)
			} else {
				assert.Equal(t, "SUCCESS", w.Body.String(), "%s, limit %d", tt.name, limit)
			}
		}
	}

	var logs testkit.SyncBuffer
	var c pushSink
	h := c.handler()
	h.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	w := servePush(h, "/", "", []byte(repeat(`{"sn":"a"`, `,"k":1`, `}`, defaultPushMembers)))
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code, "the default is 10,000")
	assert.Contains(t, logs.String(), "over 10000 (PushHandler.MaxMembers)", "the log names the bound")
	assert.Equal(t, "SUCCESS", servePush(h, "/", "", []byte(repeat(`{"sn":"a"`, `,"k":1`, `}`, defaultPushMembers-1))).Body.String())
}

// A hostile pusher must not make two different call records share a de-duplication key: the
// second would be acknowledged SUCCESS and never reach OnCallRecord.
func TestPushDedupKeysAreInjective(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		contentType string
		first, then string
		firstSN     string // the SN the first record is delivered with
	}{
		{"invalid UTF-8 in a JSON string", "application/json",
			"{\"sn\":\"acct|\xff\",\"phone\":\"1\"}", "{\"sn\":\"acct|\xfe\",\"phone\":\"1\"}", "acct|\xff"},
		{"invalid UTF-8 in a form", "application/x-www-form-urlencoded",
			"sn=acct%7C%FF&phone=1", "sn=acct%7C%FE&phone=1", "acct|\xff"},
		{"invalid UTF-8 against U+FFFD", "application/json",
			"{\"sn\":\"acct|\xff\",\"phone\":\"1\"}", `{"sn":"acct|\ufffd","phone":"1"}`, "acct|\xff"},
		{"a member that only folds to sn", "application/json",
			`{"sn":"acct|2","SN":"acct|1","phone":"1"}`, `{"sn":"acct|1","phone":"1"}`, "acct|2"},
		{"sn that spells an id", "application/json", `{"sn":"id:5","phone":"1"}`, `{"id":5,"phone":"1"}`, "id:5"},
		{"sn against an id", "application/json", `{"id":5,"phone":"1"}`, `{"sn":"5","phone":"1"}`, ""},
		{"padded sn", "application/json", `{"sn":" acct|1","phone":"1"}`, `{"sn":"acct|1","phone":"1"}`, " acct|1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var c pushSink
			h := c.handler()
			require.Equal(t, "SUCCESS", servePush(h, "/", tt.contentType, []byte(tt.first)).Body.String())
			require.Equal(t, "SUCCESS", servePush(h, "/", tt.contentType, []byte(tt.then)).Body.String())
			require.Len(t, c.calls, 2, "both records reach OnCallRecord")
			assert.Equal(t, tt.firstSN, c.calls[0].SN, "the SN the key was made from")
			assert.NotEqual(t, c.calls[0].SN+fmt.Sprint(c.calls[0].ID), c.calls[1].SN+fmt.Sprint(c.calls[1].ID))
			require.Equal(t, "SUCCESS", servePush(h, "/", tt.contentType, []byte(tt.first)).Body.String())
			assert.Len(t, c.calls, 2, "a redelivery is still a duplicate")
		})
	}
}

// A member whose name only folds to a field's (SN for sn) is kept in Extra, never decoded into the
// field: the delivered record is the one the key was made from.
func TestPushExactMemberNames(t *testing.T) {
	t.Parallel()
	var c pushSink
	body := `{"sn":"acct|2","SN":"acct|1","Phone":"2","phone":"1"}`
	require.Equal(t, "SUCCESS", servePush(c.handler(), "/", "application/json", []byte(body)).Body.String())
	require.Len(t, c.calls, 1)
	r := c.calls[0]
	assert.Equal(t, "acct|2", r.SN)
	assert.Equal(t, "1", r.Phone)
	assert.Equal(t, map[string]json.RawMessage{"SN": json.RawMessage(`"acct|1"`), "Phone": json.RawMessage(`"2"`)}, r.Extra)

	c = pushSink{}
	require.Equal(t, "SUCCESS", servePush(c.handler(), "/", "application/json", []byte(`{"SN":"acct|1","Dial_Task_Main_Data":{}}`)).Body.String())
	assert.Len(t, c.unknown, 1, "no exact member of a known kind: unknown")
}

// A member repeated is read as PHP's json_decode reads it: the last value wins, whole. An sn
// that was first an array and then text is a call record's sn, not a reason to call the push
// unknown; the reverse is an array sn, which no record has.
func TestPushRepeatedMembersLastWins(t *testing.T) {
	t.Parallel()
	var c pushSink
	body := `{"sn":[1],"sn":"acct|9","phone":{"x":1},"phone":"1"}`
	require.Equal(t, "SUCCESS", servePush(c.handler(), "/", "application/json", []byte(body)).Body.String())
	require.Len(t, c.calls, 1, "unknown: %q", c.unknown)
	assert.Equal(t, "acct|9", c.calls[0].SN)
	assert.Equal(t, "1", c.calls[0].Phone)
	assert.Empty(t, c.calls[0].Extra, "what PHP dropped is not kept")

	c = pushSink{}
	body = `{"dial_task_main_sn":{"x":1},"dial_task_main_sn":"t","import_mark":{"totalCount":3}}`
	require.Equal(t, "SUCCESS", servePush(c.handler(), "/", "application/json", []byte(body)).Body.String())
	require.Len(t, c.imports, 1, "unknown: %q", c.unknown)
	assert.Equal(t, "t", c.imports[0].TaskSN)

	c = pushSink{}
	require.Equal(t, "SUCCESS", servePush(c.handler(), "/", "application/json", []byte(`{"sn":"acct|9","sn":[1],"phone":"1"}`)).Body.String())
	assert.Len(t, c.unknown, 1, "the last sn is an array")
}

// gbk encodes s in GBK (GB18030 for what GBK lacks), as a Chinese PHP platform would send it.
func gbk(t *testing.T, s string) string {
	t.Helper()
	b, err := simplifiedchinese.GB18030.NewEncoder().String(s)
	require.NoError(t, err)
	return b
}

// A form in GBK or GB18030 is read as such: its text fields hold the right characters, and Raw
// the body exactly as received.
func TestPushFormInGBK(t *testing.T) {
	t.Parallel()
	const name, unit = "张三", "𠀀科技" // U+20000 is in GB18030 only, in four bytes
	form := "sn=" + url.QueryEscape(testRecordSN) + "&phone=1&name=" + url.QueryEscape(gbk(t, name)) +
		"&unit=" + url.QueryEscape(gbk(t, unit)) + "&" + url.QueryEscape(gbk(t, "客户等级")) + "=" + url.QueryEscape(gbk(t, "重要"))
	for _, ct := range []string{"application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=GBK",
		"application/x-www-form-urlencoded; charset=gb18030", ""} {
		t.Run(ct, func(t *testing.T) {
			t.Parallel()
			var c pushSink
			w := servePush(c.handler(), "/", ct, []byte(form))
			require.Equal(t, "SUCCESS", w.Body.String())
			require.Len(t, c.calls, 1)
			r := c.calls[0]
			assert.Equal(t, name, r.Name)
			assert.Equal(t, unit, r.Unit)
			assert.Equal(t, testRecordSN, r.SN)
			assert.JSONEq(t, `"重要"`, string(r.Extra["客户等级"]))
			assert.Equal(t, form, string(r.Raw), "Raw is the body as received")
		})
	}
	t.Run("multipart", func(t *testing.T) {
		t.Parallel()
		var mp bytes.Buffer
		mw := multipart.NewWriter(&mp)
		require.NoError(t, mw.WriteField("sn", testRecordSN))
		require.NoError(t, mw.WriteField("name", gbk(t, name)))
		require.NoError(t, mw.Close())
		var c pushSink
		require.Equal(t, "SUCCESS", servePush(c.handler(), "/", mw.FormDataContentType(), mp.Bytes()).Body.String())
		require.Len(t, c.calls, 1)
		assert.Equal(t, name, c.calls[0].Name)
		assert.Equal(t, mp.Bytes(), []byte(c.calls[0].Raw))
	})
	t.Run("JSON declared GBK", func(t *testing.T) {
		t.Parallel()
		body := gbk(t, `{"sn":"`+testRecordSN+`","name":"`+name+`"}`)
		var c pushSink
		require.Equal(t, "SUCCESS", servePush(c.handler(), "/", "application/json; charset=gbk", []byte(body)).Body.String())
		require.Len(t, c.calls, 1)
		assert.Equal(t, name, c.calls[0].Name)
		assert.Equal(t, body, string(c.calls[0].Raw))
	})
	t.Run("import result", func(t *testing.T) {
		t.Parallel()
		body := "dial_task_main_sn=t&import_mark=" + url.QueryEscape(gbk(t, "导入文件为空"))
		var c pushSink
		require.Equal(t, "SUCCESS", servePush(c.handler(), "/", "", []byte(body)).Body.String())
		require.Len(t, c.imports, 1)
		assert.Equal(t, "导入文件为空", c.imports[0].Failure)
		assert.Equal(t, body, string(c.imports[0].Raw))
	})
}

// An sn far longer than a platform's (under 64 bytes) is refused before it reaches the store.
func TestPushRefusesAnOversizedSN(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	var c pushSink
	h := c.handler()
	h.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	for _, body := range []string{
		`{"sn":"` + strings.Repeat("a", 512<<10) + `","phone":"1"}`,
		"sn=" + strings.Repeat("a", 257) + "&phone=1",
	} {
		w := servePush(h, "/", "", []byte(body))
		assert.Equal(t, http.StatusBadRequest, w.Code)
	}
	assert.Zero(t, c.total(), "no callback")
	assert.Contains(t, logs.String(), "sn")
	assert.Equal(t, "SUCCESS", servePush(h, "/", "", []byte(`{"sn":"`+strings.Repeat("a", 256)+`","phone":"1"}`)).Body.String())
}

func TestPushWarnsOnceWithoutToken(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	var c pushSink
	h := c.handler()
	h.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	for range 3 {
		servePush(h, "/", "", pushsample.CallRecord(testRecordSN, "1"))
	}
	assert.Equal(t, 1, strings.Count(logs.String(), "Token is not set"), logs.String())

	logs = testkit.SyncBuffer{}
	h = c.handler()
	h.Token, h.Logger = NewSecret(testPushToken), slog.New(slog.NewTextHandler(&logs, nil))
	servePush(h, "/?token="+testPushToken, "", pushsample.CallRecord(testRecordSN, "1"))
	assert.NotContains(t, logs.String(), "Token is not set")
}

func TestPushCharsetOption(t *testing.T) {
	t.Parallel()
	const name = "张三"
	gbkForm := "sn=a&name=" + url.QueryEscape(gbk(t, name))
	utf8Form := "sn=a&name=" + url.QueryEscape(name)
	tests := []struct {
		charset, contentType, body, want string
	}{
		{"", "", gbkForm, name},
		{"", "", utf8Form, name},
		{"", "application/x-www-form-urlencoded; charset=utf-8", utf8Form, name},
		{"", "application/x-www-form-urlencoded; charset=latin1", gbkForm, name}, // not read: auto, logged
		{"GBK", "application/x-www-form-urlencoded; charset=utf-8", gbkForm, name},
		{"gb18030", "", gbkForm, name},
		{"utf-8", "application/x-www-form-urlencoded; charset=gbk", utf8Form, name},
		{"utf-8", "", gbkForm, "\ufffd\ufffd\ufffd"}, // forced, not UTF-8: cut as PHP's JSON_INVALID_UTF8_SUBSTITUTE cuts
		{"gbk", "", "sn=a&name=%FF", "\ufffd"},       // not GBK either: kept as received
	}
	for _, tt := range tests {
		var logs testkit.SyncBuffer
		var c pushSink
		h := c.handler()
		h.Charset, h.Logger = tt.charset, slog.New(slog.NewTextHandler(&logs, nil))
		require.Equal(t, "SUCCESS", servePush(h, "/", tt.contentType, []byte(tt.body)).Body.String(), tt)
		require.Len(t, c.calls, 1)
		assert.Equal(t, tt.want, c.calls[0].Name, tt)
		assert.Equal(t, tt.body, string(c.calls[0].Raw), tt)
		if strings.Contains(tt.want, "\ufffd") || strings.Contains(tt.contentType, "latin1") {
			assert.Contains(t, logs.String(), "level=WARN msg=\"digelao: push", tt)
		}
	}
}

func TestPushCharsetMisconfigured(t *testing.T) {
	t.Parallel()
	var logs testkit.SyncBuffer
	var c pushSink
	h := c.handler()
	h.Charset, h.Logger = "shift_jis", slog.New(slog.NewTextHandler(&logs, nil))
	for range 2 {
		w := servePush(h, "/", "", pushsample.CallRecord(testRecordSN, "1"))
		assert.Equal(t, http.StatusInternalServerError, w.Code, "a misconfigured receiver acknowledges nothing")
	}
	assert.Zero(t, c.total())
	assert.Equal(t, 2, strings.Count(logs.String(), `level=ERROR msg="digelao: push handler misconfigured`))
	assert.Contains(t, logs.String(), "shift_jis")
}

func TestFromGB18030IsOneToOne(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{gbk(t, "张三"): "张三", gbk(t, "𠀀€"): "𠀀€", "abc": "abc"} {
		got, ok := fromGB18030(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, got)
	}
	// What the decoder would turn into U+FFFD, or read as what another text reads as, is not GB18030.
	for _, in := range []string{"\xff", "a\xfe", "\x81\x30", "\x80", gbk(t, "\ufffd")[:3]} {
		_, ok := fromGB18030(in)
		assert.False(t, ok, "%q", in)
	}
}

// A refused push from a slow sender does not hold its connection: the handler answers and closes
// it, however long the server would wait for the rest of the body.
func TestRefusedPushClosesTheConnection(t *testing.T) {
	t.Parallel()
	h := &PushHandler{Token: NewSecret(testPushToken), OnCallRecord: func(context.Context, *CallRecord) error { return nil }}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = time.Minute
	srv.Start()
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	// Headers announcing a body, a first piece of it, then nothing.
	_, err = fmt.Fprintf(conn, "POST /?token=wrong HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"sn\":")
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	_, err = io.Copy(io.Discard, resp.Body)
	require.NoError(t, err, "the answer ends, and then the connection: no read timeout reached")
	_, err = conn.Read(make([]byte, 1))
	assert.ErrorIs(t, err, io.EOF, "closed by the server, not left waiting for the body")
}

// importPush is the body of an import-result push for taskSN, as pushsample writes it.
func importPush(taskSN, failure string, c ImportCounts) []byte {
	var counts map[string]int
	b, _ := json.Marshal(c) // the counters by their wire names
	_ = json.Unmarshal(b, &counts)
	return pushsample.ImportResult(taskSN, failure, counts)
}

// pushRequest is a push of body to target, as the platform sends one.
func pushRequest(target string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

// classifyPlain is classify's reference: the object is scanned for the members that tell its kind
// (flex.Members), then decoded by the kind's UnmarshalJSON, and a call record's sn read again from
// its value.
func classifyPlain(pb *pushBody) (*pushEvent, error) {
	var m struct {
		taskSN, importMark, taskData, phone bool
		sn                                  []byte
	}
	if err := flex.Members(pb.obj, func(name string, value []byte) error {
		switch name {
		case "dial_task_main_sn":
			m.taskSN = true
		case "import_mark":
			m.importMark = true
		case "dial_task_main_data":
			m.taskData = true
		case "phone":
			m.phone = true
		case "sn":
			m.sn = value
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	ev := pushEvent{unread: !pb.read}
	var err error
	switch {
	case m.taskSN && m.importMark:
		ev.imp = new(ImportResult)
		if err = ev.imp.UnmarshalJSON(pb.obj); err == nil {
			err = fits(ev.imp.Extra, "dial_task_main_sn")
			ev.imp.Raw = pb.raw
		}
	case m.taskData:
		ev.stats = new(TaskAnalytics)
		if err = ev.stats.UnmarshalJSON(pb.obj); err == nil {
			ev.stats.Raw = pb.raw
		}
	case m.sn != nil || m.phone:
		var sn string
		var snErr error
		switch {
		case pb.form != nil:
			v, _ := pb.form.Get("sn")
			sn, _ = v.(string)
		case m.sn != nil:
			if snErr = flex.Exact(m.sn); snErr == nil {
				sn, snErr = flex.Text(m.sn)
			}
		}
		ev.call = new(CallRecord)
		if err = ev.call.UnmarshalJSON(pb.obj); err != nil {
			break
		}
		if err = fits(ev.call.Extra, "sn"); err != nil {
			break
		}
		if snErr == nil && len(sn) > maxSNBytes {
			snErr = fmt.Errorf("%d bytes, over %d (a platform sn is under 64)", len(sn), maxSNBytes)
		}
		if snErr != nil {
			return nil, fmt.Errorf("call record's sn: %w", snErr)
		}
		ev.call.SN, ev.call.Raw = sn, pb.raw
	}
	if err != nil {
		return &pushEvent{err: err, unread: ev.unread}, nil
	}
	return &ev, nil
}

// FuzzClassifyMatchesPlain pins classify, which decodes a push in one scan, to classifyPlain: the
// same event (kind, fields, Extra, Raw, reason) or the same error, for every body the decoder takes.
func FuzzClassifyMatchesPlain(f *testing.F) {
	f.Add("application/json", pushsample.CallRecord(testRecordSN, "13800138000"))
	f.Add("application/json", importPush("t", "", ImportCounts{Total: 1}))
	f.Add("application/json", importPush("t", "导入失败", ImportCounts{}))
	f.Add("", pushsample.TaskAnalytics("t"))
	f.Add("application/x-www-form-urlencoded", []byte("sn=account%7C1&phone=1&talktimes=3&m%5Ba%5D%5B%5D=1"))
	f.Add("application/x-www-form-urlencoded; charset=gbk", []byte("sn=account%7C1&name=%D5%C5%C8%FD"))
	f.Add("application/x-www-form-urlencoded", []byte("sn[]=1&phone=2"))
	for _, s := range []string{`{"sn":"a","x":[1,{"y":"a,{["]"},[]],"z":{}}`, `{"s\u006e":"a","SN":"b"}`, `{"sn":{},"sn":"a"}`,
		`{"sn":"a","sn":{}}`, `{"sn":"\ud800","id":1}`, `{"sn":"\ud83d\ude00\u00e9"}`, `{"phone":null,"id":"7","talktimes":"x"}`,
		`{"sn":12003,"score":"50%","created_at":"2024-07-02 15:03:24"}`, `{"dial_task_main_sn":1,"import_mark":"x"}`,
		`{"dial_task_main_sn":"t","import_mark":{"totalCount":"x"}}`, `{"dial_task_main_data":[1]}`, `{"sn":"a",}`,
		`{"sn":"a"} x`, "{\"sn\":\"a|\xff\",\"name\":\"\xd5\xc5\"}", `{}`, `{"sn":"` + strings.Repeat("x", 300) + `"}`} {
		f.Add("application/json", []byte(s))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		cs, _ := requestCharset(charsetAuto, contentType)
		pb, err := pushObject(contentType, cs, body, 0)
		if err != nil || pb == nil {
			return
		}
		got, gotErr := classify(pb)
		want, wantErr := classifyPlain(pb)
		if (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("%q: classify %v, plain %v", pb.obj, gotErr, wantErr)
		}
		if gotErr != nil {
			return
		}
		if (got.err == nil) != (want.err == nil) || got.err != nil && got.err.Error() != want.err.Error() {
			t.Fatalf("%q: classify's reason %v, plain's %v", pb.obj, got.err, want.err)
		}
		got.err, want.err = nil, nil
		assert.Equal(t, want, got, "%q", pb.obj)
	})
}

// lostReplyDedup is a shared store whose first Claim takes effect but whose reply is lost on the
// way back (a network timeout after Redis ran the script): the caller sees an error.
type lostReplyDedup struct {
	*MemoryDedup
	lost atomic.Bool
}

func (d *lostReplyDedup) Claim(ctx context.Context, key, token string) (ClaimState, error) {
	state, err := d.MemoryDedup.Claim(ctx, key, token)
	if d.lost.CompareAndSwap(false, true) {
		return 0, errors.New("i/o timeout")
	}
	return state, err
}

// A claim whose reply was lost may have been taken: the delivery that made it releases it with
// its token, which frees nothing of anyone else's, so that the platform's next try — it tries
// three times, at an interval it does not state — is handled rather than refused as in progress
// until the claim lapses five minutes later, and the push lost.
func TestPushHandlerReleasesAClaimWhoseReplyWasLost(t *testing.T) {
	t.Parallel()
	var handled atomic.Int32
	h := &PushHandler{Dedup: &lostReplyDedup{MemoryDedup: MemDedup(t, 10)},
		OnCallRecord: func(context.Context, *CallRecord) error { handled.Add(1); return nil }}
	body := pushsample.CallRecord(testRecordSN, "1")
	w := servePush(h, "/", "", body)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "the store failed: the platform tries again")
	w = servePush(h, "/", "", body)
	assert.Equal(t, "SUCCESS", w.Body.String(), "the next try is handled, not refused as in progress")
	assert.Equal(t, int32(1), handled.Load())
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
